using Microsoft.Extensions.Logging;

namespace Anchorage.Hosting.Audit.Internal;

/// <summary>The audit log's own events (8000-8099): it never throws, so these are how an operator learns that records are being lost.</summary>
internal static partial class AuditLogEvents
{
    [LoggerMessage(EventId = 8001, Level = LogLevel.Error, Message = "audit log {File}: cannot write, audit records are being lost: {Reason}")]
    public static partial void WriteFailed(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "audit log {File}: writing again; {Lost} records were lost while it could not write")]
    public static partial void WriteRecovered(ILogger logger, string file, long lost);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "audit log {File}: the queue was full, {Count} records were dropped")]
    public static partial void Dropped(ILogger logger, string file, long count);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Error, Message = "audit log {File}: rotation failed, appending to the current file: {Reason}")]
    public static partial void RotateFailed(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Warning, Message = "audit log {File}: {Count} records were dropped while it was closing")]
    public static partial void DroppedAfterClose(ILogger logger, string file, long count);

    [LoggerMessage(EventId = 8006, Level = LogLevel.Error, Message = "audit log {File}: records were lost to an unexpected error: {Reason}")]
    public static partial void Unexpected(ILogger logger, string file, string reason);
}
