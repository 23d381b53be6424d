using System.Globalization;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Attestation;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api;

/// <summary>
/// The one place where the agent and admin APIs turn an exception into a gRPC status (as SPIRE's
/// <c>api.MakeErr</c>): the caller learns what it did wrong, never how the server is built.
/// Every service method runs behind an interceptor that calls <see cref="ToRpcException"/>, and
/// per-item results of batch calls use <see cref="ToStatus"/>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>exception</term><description>status and detail</description></listheader>
/// <item><term><see cref="FormatException"/>, <see cref="ArgumentException"/>, <see cref="EntryValidationException"/>, <see cref="SpiffeException"/></term>
/// <description><see cref="StatusCode.InvalidArgument"/>, the exception's message (without .NET's "(Parameter ...)" suffix)</description></item>
/// <item><term><see cref="EntryConflictException"/>, <see cref="DataStoreConflictException"/></term><description><see cref="StatusCode.AlreadyExists"/>, the message</description></item>
/// <item><term><see cref="DataStoreStaleRevisionException"/></term><description><see cref="StatusCode.Aborted"/>, the message (the record changed since the caller read it)</description></item>
/// <item><term><see cref="EntryNotFoundException"/>, <see cref="DataStoreNotFoundException"/></term><description><see cref="StatusCode.NotFound"/>, the message</description></item>
/// <item><term><see cref="AttestationException"/></term><description><see cref="StatusCode.PermissionDenied"/>, the message (written to be safe for the agent)</description></item>
/// <item><term><see cref="DataStoreUnavailableException"/></term><description><see cref="StatusCode.Unavailable"/>, <c>datastore is unavailable</c> (the reason is logged)</description></item>
/// <item><term><see cref="OperationCanceledException"/></term><description><see cref="StatusCode.Cancelled"/>, <c>call cancelled</c></description></item>
/// <item><term>refusals the services decide (unknown id, unauthenticated agent, CA not ready, busy signer)</term><description>their own code and message; a busy signer adds the trailer <see cref="RetryAfterMetadataKey"/></description></item>
/// <item><term>anything else</term><description><see cref="StatusCode.Internal"/>, <see cref="InternalErrorMessage"/>; the exception is logged</description></item>
/// </list>
/// </remarks>
public static class GrpcStatusMapper
{
    /// <summary>Trailer of a <see cref="StatusCode.Unavailable"/> "busy" refusal: milliseconds to wait before retrying.</summary>
    public const string RetryAfterMetadataKey = "retry-after-ms";

    /// <summary>The detail of every <see cref="StatusCode.Internal"/> status.</summary>
    public const string InternalErrorMessage = "internal error";

    /// <summary>The detail of every <see cref="StatusCode.Unavailable"/> status caused by the datastore.</summary>
    public const string DataStoreUnavailableMessage = "datastore is unavailable";

    /// <summary>The detail of a cancelled call.</summary>
    public const string CancelledMessage = "call cancelled";

    /// <summary>The status for <paramref name="exception"/>; logs what the caller is not told.</summary>
    /// <param name="exception">What went wrong.</param>
    /// <param name="logger">Receives internal errors and datastore outages.</param>
    /// <param name="method">The gRPC method, for the log.</param>
    public static Status ToStatus(Exception exception, ILogger logger, string method)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(logger);
        switch (exception)
        {
            case RpcException rpc:
                return rpc.Status;
            case ApiException api:
                return new Status(api.Code, api.Message);
            case EntryValidationException or FormatException or SpiffeException:
                return new Status(StatusCode.InvalidArgument, exception.Message);
            case ArgumentException argument:
                return new Status(StatusCode.InvalidArgument, ArgumentMessage(argument));
            case EntryConflictException or DataStoreConflictException:
                return new Status(StatusCode.AlreadyExists, exception.Message);
            case DataStoreStaleRevisionException:
                return new Status(StatusCode.Aborted, exception.Message);
            case EntryNotFoundException or DataStoreNotFoundException:
                return new Status(StatusCode.NotFound, exception.Message);
            case AttestationException:
                return new Status(StatusCode.PermissionDenied, exception.Message);
            case DataStoreUnavailableException:
                ApiLog.DataStoreUnavailable(logger, method, exception.Message);
                return new Status(StatusCode.Unavailable, DataStoreUnavailableMessage);
            case OperationCanceledException:
                return new Status(StatusCode.Cancelled, CancelledMessage);
            default:
                ApiLog.InternalError(logger, method, exception);
                return new Status(StatusCode.Internal, InternalErrorMessage);
        }
    }

    /// <summary>
    /// <see cref="ToStatus"/> as the exception a service throws; a busy refusal carries the
    /// <see cref="RetryAfterMetadataKey"/> trailer.
    /// </summary>
    public static RpcException ToRpcException(Exception exception, ILogger logger, string method)
    {
        if (exception is RpcException rpc)
        {
            return rpc;
        }

        var status = ToStatus(exception, logger, method);
        var trailers = new Metadata();
        if (exception is ApiException { RetryAfterMilliseconds: { } retryAfter })
        {
            trailers.Add(RetryAfterMetadataKey, retryAfter.ToString(CultureInfo.InvariantCulture));
        }

        return new RpcException(status, trailers);
    }

    /// <summary>
    /// True for exceptions that describe one bad item of a batch (invalid or conflicting input), which
    /// fail that item alone; anything else (an outage, a bug) fails the whole call.
    /// </summary>
    public static bool IsItemError(Exception exception) =>
        exception is EntryValidationException or EntryConflictException or DataStoreStaleRevisionException or FormatException or ArgumentException or SpiffeException
            or ApiException { Code: not StatusCode.Unavailable };

    // .NET appends " (Parameter 'name')" and, for out-of-range values, a line with the value: neither is for the caller.
    private static string ArgumentMessage(ArgumentException exception)
    {
        var message = exception.Message;
        var newline = message.IndexOf('\n', StringComparison.Ordinal);
        if (newline >= 0)
        {
            message = message[..newline].TrimEnd('\r');
        }

        if (exception.ParamName is { } name)
        {
            var suffix = " (Parameter '" + name + "')";
            if (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        return message;
    }
}
