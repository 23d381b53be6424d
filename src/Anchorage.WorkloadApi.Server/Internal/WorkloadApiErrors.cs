using Grpc.Core;

namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>The one place the Workload API turns a failure into a gRPC status.</summary>
internal static class WorkloadApiErrors
{
    public const string MissingHeader = "request must carry metadata workload.spiffe.io: true";
    public const string NoIdentity = "caller has no workload identity";
    public const string NoSvid = "caller is not entitled to any svid";
    public const string NoJwtBundle = "caller is not entitled to any jwt bundle";
    public const string AudienceRequired = "audience is required";
    public const string SvidRequired = "svid is required";
    public const string NotCallersSpiffeId = "spiffe_id is not an identity of the caller";
    public const string InvalidSpiffeId = "spiffe_id is not a valid spiffe id";
    public const string TooManyStreams = "too many open streams for this caller";
    public const string WitUnsupported = "the wit-svid profile is not supported";

    public static string InvalidJwtSvid(string reason) => "invalid jwt-svid: " + reason;

    public static string TooManyAudiences(int count, int max) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"audience has {count} values; at most {max} are allowed");

    public static string AudienceTooLong(int length, int max) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"an audience value is {length} characters long; at most {max} are allowed");

    public static RpcException InvalidArgument(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException PermissionDenied(string message) => new(new Status(StatusCode.PermissionDenied, message));

    public static RpcException Unavailable(string message) => new(new Status(StatusCode.Unavailable, message));

    public static RpcException Unimplemented(string message) => new(new Status(StatusCode.Unimplemented, message));
}
