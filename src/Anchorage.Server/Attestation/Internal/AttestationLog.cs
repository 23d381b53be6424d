using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Attestation.Internal;

/// <summary>
/// Node attestation log events, ids 3300-3349. Join tokens appear only by their public id (also in
/// the agent's SPIFFE ID); secrets are never logged.
/// </summary>
internal static partial class AttestationLog
{
    [LoggerMessage(EventId = 3300, EventName = "JoinTokenGenerated", Level = LogLevel.Information,
        Message = "join token {TokenId} generated, expires {ExpiresAt:O}, alias {Alias}")]
    public static partial void JoinTokenGenerated(ILogger logger, string tokenId, DateTimeOffset expiresAt, SpiffeId alias);

    [LoggerMessage(EventId = 3301, EventName = "JoinTokenRedeemed", Level = LogLevel.Information,
        Message = "join token {TokenId} redeemed by agent {AgentId}")]
    public static partial void JoinTokenRedeemed(ILogger logger, string tokenId, SpiffeId agentId);

    [LoggerMessage(EventId = 3302, EventName = "JoinTokenMalformed", Level = LogLevel.Warning,
        Message = "join token refused: not <16 hex id>.<base64url 32-byte secret>")]
    public static partial void JoinTokenMalformed(ILogger logger);

    [LoggerMessage(EventId = 3303, EventName = "JoinTokenUnknown", Level = LogLevel.Warning,
        Message = "join token {TokenId} refused: unknown or already used")]
    public static partial void JoinTokenUnknown(ILogger logger, string tokenId);

    [LoggerMessage(EventId = 3304, EventName = "JoinTokenWrongSecret", Level = LogLevel.Warning,
        Message = "join token {TokenId} refused and consumed: wrong secret")]
    public static partial void JoinTokenWrongSecret(ILogger logger, string tokenId);

    [LoggerMessage(EventId = 3305, EventName = "JoinTokenExpired", Level = LogLevel.Warning,
        Message = "join token {TokenId} refused and consumed: expired at {ExpiresAt:O}")]
    public static partial void JoinTokenExpired(ILogger logger, string tokenId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 3306, EventName = "JoinTokenNodeBanned", Level = LogLevel.Warning,
        Message = "join token {TokenId} refused and consumed: agent {AgentId} is banned")]
    public static partial void JoinTokenNodeBanned(ILogger logger, string tokenId, SpiffeId agentId);

    [LoggerMessage(EventId = 3307, EventName = "NodeAliasExists", Level = LogLevel.Information,
        Message = "join token {TokenId}: node alias {Alias} entry already exists")]
    public static partial void NodeAliasExists(ILogger logger, string tokenId, SpiffeId alias);

    [LoggerMessage(EventId = 3310, EventName = "NodeAttested", Level = LogLevel.Information,
        Message = "agent {AgentId} attested ({AttestationType}), SVID serial {Serial} until {NotAfter:O}")]
    public static partial void NodeAttested(ILogger logger, SpiffeId agentId, string attestationType, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3311, EventName = "NodeRenewed", Level = LogLevel.Information,
        Message = "agent {AgentId} renewed, SVID serial {Serial} until {NotAfter:O}")]
    public static partial void NodeRenewed(ILogger logger, SpiffeId agentId, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3312, EventName = "NodeRefused", Level = LogLevel.Warning,
        Message = "agent {AgentId} refused: {Reason}")]
    public static partial void NodeRefused(ILogger logger, SpiffeId agentId, string reason);

    [LoggerMessage(EventId = 3313, EventName = "NodeEvicted", Level = LogLevel.Information,
        Message = "agent {AgentId} evicted")]
    public static partial void NodeEvicted(ILogger logger, SpiffeId agentId);

    [LoggerMessage(EventId = 3314, EventName = "NodeBanned", Level = LogLevel.Warning,
        Message = "agent {AgentId} banned")]
    public static partial void NodeBanned(ILogger logger, SpiffeId agentId);

    [LoggerMessage(EventId = 3315, EventName = "NodeSvidPromoted", Level = LogLevel.Information,
        Message = "agent {AgentId} used its renewed SVID serial {Serial} (until {NotAfter:O}): the previous SVID is no longer accepted")]
    public static partial void NodeSvidPromoted(ILogger logger, SpiffeId agentId, string serial, DateTimeOffset notAfter);
}
