using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>The gate's log messages (event ids 23xx).</summary>
internal static partial class GateLog
{
    [LoggerMessage(EventId = 2401, Level = LogLevel.Information, Message = "gate listener {Listener} ({Direction}) listening on {Address}")]
    public static partial void Listening(ILogger logger, string listener, string direction, string address);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Information, Message = "gate {Direction} connection {ConnectionId} on {Listener} denied: {Reason} ({Detail})")]
    public static partial void Denied(ILogger logger, string direction, string connectionId, string listener, string reason, string? detail);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Information, Message = "gate connection {ConnectionId} closed: {Reason}")]
    public static partial void ClosedByChange(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Warning, Message = "gate listener {Listener}: accepting failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, string listener, string error);

    [LoggerMessage(EventId = 2406, Level = LogLevel.Warning, Message = "gate listener {Listener}: out of file descriptors or memory, accepting paused and retried: {Error}")]
    public static partial void AcceptShortage(ILogger logger, string listener, string error);

    [LoggerMessage(EventId = 2407, Level = LogLevel.Warning, Message = "gate listener {Listener}: no IPv6 twin at [::1]:{Port} ({Error}); {Consequence}")]
    public static partial void NoIPv6Listener(ILogger logger, string listener, int port, string error, string consequence);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Warning, Message = "gate connection {ConnectionId}: unexpected error: {Error}")]
    public static partial void ConnectionFailed(ILogger logger, string connectionId, string error);
}
