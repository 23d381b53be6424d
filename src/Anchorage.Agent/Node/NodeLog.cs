using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Node;

/// <summary>The node lifecycle's log events. Never a key or a token.</summary>
internal static partial class NodeLog
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "agent {AgentId} resumed with its saved svid (expires {NotAfter:u})")]
    public static partial void Resumed(ILogger logger, SpiffeId agentId, DateTime notAfter);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "the saved svid of agent {AgentId} expired at {NotAfter:u}; attesting again")]
    public static partial void SavedSvidExpired(ILogger logger, SpiffeId agentId, DateTime notAfter);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Error, Message = "{Problem}; moved aside: {Moved}")]
    public static partial void StateUnusable(ILogger logger, string problem, string moved);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "agent {AgentId} attested with its join token (svid expires {NotAfter:u})")]
    public static partial void Attested(ILogger logger, SpiffeId agentId, DateTime notAfter);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Information, Message = "agent {AgentId} renewed its svid (serial {Serial}, expires {NotAfter:u})")]
    public static partial void Renewed(ILogger logger, SpiffeId agentId, string serial, DateTime notAfter);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "agent {AgentId} is refused by the server: {Reason}")]
    public static partial void Refused(ILogger logger, SpiffeId agentId, string reason);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Critical, Message = "INSECURE BOOTSTRAP: trusting whatever certificate {Server} presents for the first attestation (insecureBootstrap: true); configure trustBundleFile instead")]
    public static partial void InsecureBootstrap(ILogger logger, Anchorage.Foundation.Config.HostPort server);
}
