using Microsoft.Extensions.Logging;

namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>Workload API log events (ids 7000-7099).</summary>
internal static partial class WorkloadApiLog
{
    [LoggerMessage(EventId = 7000, EventName = "WorkloadApiMissingHeader", Level = LogLevel.Debug,
        Message = "Workload API call {Method} refused: security header missing")]
    public static partial void MissingHeader(ILogger logger, string method);

    [LoggerMessage(EventId = 7001, EventName = "WorkloadApiNoIdentity", Level = LogLevel.Debug,
        Message = "Workload API call {Method} refused: caller has no identity")]
    public static partial void NoIdentity(ILogger logger, string method);

    [LoggerMessage(EventId = 7002, EventName = "WorkloadApiStreamLimit", Level = LogLevel.Warning,
        Message = "Workload API call {Method} refused: caller {Caller} holds {Limit} open streams")]
    public static partial void StreamLimit(ILogger logger, string method, string caller, int limit);

    [LoggerMessage(EventId = 7003, EventName = "WorkloadApiJwtSvidRejected", Level = LogLevel.Debug,
        Message = "ValidateJWTSVID rejected a token: {Reason}")]
    public static partial void JwtSvidRejected(ILogger logger, string reason);
}
