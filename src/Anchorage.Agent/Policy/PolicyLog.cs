using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Policy;

/// <summary>The policy sources' log events, ids 2301-2309.</summary>
internal static partial class PolicyLog
{
    [LoggerMessage(EventId = 2301, EventName = "PolicyLoaded", Level = LogLevel.Information,
        Message = "policy {Name} version {Version} in force ({Rules} rules, from {Source})")]
    public static partial void Loaded(ILogger logger, string name, string version, int rules, string source);

    [LoggerMessage(EventId = 2302, EventName = "PolicyRejected", Level = LogLevel.Warning,
        Message = "policy from {Source} rejected, keeping version {KeptVersion}: {Errors}")]
    public static partial void Rejected(ILogger logger, string source, string keptVersion, string errors);

    [LoggerMessage(EventId = 2303, EventName = "PolicyWatchUnavailable", Level = LogLevel.Warning,
        Message = "cannot watch {Path} for changes ({Reason}); checking it every {Interval}")]
    public static partial void WatchUnavailable(ILogger logger, string path, string reason, TimeSpan interval);

    [LoggerMessage(EventId = 2304, EventName = "PolicyNotServed", Level = LogLevel.Warning,
        Message = "the server does not serve a communication policy (GetPolicy unimplemented); the gate denies by default")]
    public static partial void NotServed(ILogger logger);
}
