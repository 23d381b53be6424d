using Grpc.Core;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// A refusal the API layer decides itself (an unknown id, an unauthenticated agent, a busy
/// signer). It carries the code; <see cref="GrpcStatusMapper"/> still makes the status, so every
/// status comes from one place.
/// </summary>
internal sealed class ApiException : Exception
{
    private ApiException(StatusCode code, string message, int? retryAfterMilliseconds = null)
        : base(message)
    {
        Code = code;
        RetryAfterMilliseconds = retryAfterMilliseconds;
    }

    public StatusCode Code { get; }

    /// <summary>Set on <see cref="StatusCode.Unavailable"/> refusals that say when to come back.</summary>
    public int? RetryAfterMilliseconds { get; }

    public static ApiException NotFound(string message) => new(StatusCode.NotFound, message);

    public static ApiException PermissionDenied(string message) => new(StatusCode.PermissionDenied, message);

    public static ApiException InvalidArgument(string message) => new(StatusCode.InvalidArgument, message);

    public static ApiException FailedPrecondition(string message) => new(StatusCode.FailedPrecondition, message);

    public static ApiException Aborted(string message) => new(StatusCode.Aborted, message);

    public static ApiException Unavailable(string message) => new(StatusCode.Unavailable, message);

    public static ApiException Busy(int retryAfterMilliseconds) => new(
        StatusCode.Unavailable,
        FormattableString.Invariant($"server is busy signing; retry after {retryAfterMilliseconds} ms"),
        retryAfterMilliseconds);
}
