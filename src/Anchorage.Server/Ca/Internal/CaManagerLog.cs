using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Ca.Internal;

/// <summary>CA manager events, ids 3000-3099 (docs/architecture.md lists every range). Authorities are named by id (public); never a key.</summary>
internal static partial class CaManagerLog
{
    [LoggerMessage(EventId = 3000, EventName = "CaStarted", Level = LogLevel.Information,
        Message = "ca of server {ServerId} for {TrustDomain} started: active x509 authority {X509AuthorityId}, active jwt authority {JwtAuthorityId}")]
    public static partial void Started(ILogger logger, string serverId, string trustDomain, string x509AuthorityId, string jwtAuthorityId);

    [LoggerMessage(EventId = 3001, EventName = "CaAuthorityPrepared", Level = LogLevel.Information,
        Message = "prepared {Kind} authority {AuthorityId} valid until {NotAfter:O}")]
    public static partial void Prepared(ILogger logger, string kind, string authorityId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3002, EventName = "CaAuthorityActivated", Level = LogLevel.Information,
        Message = "activated {Kind} authority {AuthorityId}; the previous active one ({PreviousId}) is now old")]
    public static partial void Activated(ILogger logger, string kind, string authorityId, string previousId);

    [LoggerMessage(EventId = 3003, EventName = "CaAuthorityRetired", Level = LogLevel.Information,
        Message = "retired {Kind} authority {AuthorityId}: it expired at {NotAfter:O}")]
    public static partial void Retired(ILogger logger, string kind, string authorityId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3004, EventName = "CaAuthorityTainted", Level = LogLevel.Warning,
        Message = "tainted {Kind} authority {AuthorityId} of server {ServerId}: holders of svids it signed re-issue now")]
    public static partial void Tainted(ILogger logger, string kind, string authorityId, string serverId);

    [LoggerMessage(EventId = 3005, EventName = "CaAuthorityRevoked", Level = LogLevel.Warning,
        Message = "revoked {Kind} authority {AuthorityId} of server {ServerId}: it leaves the bundle")]
    public static partial void Revoked(ILogger logger, string kind, string authorityId, string serverId);

    [LoggerMessage(EventId = 3006, EventName = "CaBundleChanged", Level = LogLevel.Information,
        Message = "bundle of {TrustDomain} is at sequence {Sequence}: {X509Count} x509 and {JwtCount} jwt authorities")]
    public static partial void BundleChanged(ILogger logger, string trustDomain, ulong sequence, int x509Count, int jwtCount);

    [LoggerMessage(EventId = 3007, EventName = "CaServerSvidIssued", Level = LogLevel.Information,
        Message = "issued the server svid {SpiffeId} (serial {Serial}) with x509 authority {AuthorityId}, valid until {NotAfter:O}")]
    public static partial void ServerSvidIssued(ILogger logger, Anchorage.Spiffe.Ids.SpiffeId spiffeId, string serial, string authorityId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3008, EventName = "CaStopped", Level = LogLevel.Information, Message = "ca of server {ServerId} stopped")]
    public static partial void Stopped(ILogger logger, string serverId);

    [LoggerMessage(EventId = 3010, EventName = "CaAuthorityKeyMissing", Level = LogLevel.Error,
        Message = "{Kind} authority {AuthorityId} was {State} but its key is not in this server's key manager; it is now old: it stays in the bundle until it expires or is revoked, and signs nothing")]
    public static partial void KeyMissing(ILogger logger, string kind, string authorityId, string state);

    [LoggerMessage(EventId = 3011, EventName = "CaAuthorityKeyUnusable", Level = LogLevel.Error,
        Message = "{Kind} authority {AuthorityId} was {State} but its key cannot be used ({Reason}); it is now old: it stays in the bundle until it expires or is revoked, and signs nothing")]
    public static partial void KeyUnusable(ILogger logger, string kind, string authorityId, string state, string reason);

    [LoggerMessage(EventId = 3012, EventName = "CaAuthorityRecordUnusable", Level = LogLevel.Error,
        Message = "{Kind} authority {AuthorityId} of server {ServerId} has unreadable public material ({Reason}); it is left out of the bundle")]
    public static partial void RecordUnusable(ILogger logger, string kind, string authorityId, string serverId, string reason);

    [LoggerMessage(EventId = 3013, EventName = "CaUpstreamRootUnknown", Level = LogLevel.Warning,
        Message = "x509 authority {AuthorityId} of server {ServerId} is signed by an upstream ca whose root this server does not have; that root is not in this server's bundle")]
    public static partial void UpstreamRootUnknown(ILogger logger, string authorityId, string serverId);

    [LoggerMessage(EventId = 3014, EventName = "CaPreparedNotPublished", Level = LogLevel.Warning,
        Message = "{Kind} authority {AuthorityId} is not yet in the stored bundle (another server published concurrently); publishing again before activating it")]
    public static partial void PreparedNotPublished(ILogger logger, string kind, string authorityId);

    [LoggerMessage(EventId = 3015, EventName = "CaActivationLost", Level = LogLevel.Warning,
        Message = "{Kind} authority {AuthorityId} was not activated: the journal no longer holds it as prepared (revoked or activated by another server)")]
    public static partial void ActivationLost(ILogger logger, string kind, string authorityId);

    [LoggerMessage(EventId = 3020, EventName = "CaRotationCheckFailed", Level = LogLevel.Error,
        Message = "rotation check failed; retrying at the next interval")]
    public static partial void RotationCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3021, EventName = "CaServerSvidFailed", Level = LogLevel.Error,
        Message = "cannot issue the server svid; keeping the current one")]
    public static partial void ServerSvidFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3022, EventName = "CaListenerFailed", Level = LogLevel.Error,
        Message = "a {Event} listener threw")]
    public static partial void ListenerFailed(ILogger logger, string @event, Exception exception);
}
