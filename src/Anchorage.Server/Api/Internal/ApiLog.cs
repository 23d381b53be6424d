using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// Agent and admin API log events, ids 3400-3449. Never logs CSRs, tokens or keys: requests appear
/// only by method and SPIFFE ID.
/// </summary>
internal static partial class ApiLog
{
    [LoggerMessage(EventId = 3400, EventName = "ApiInternalError", Level = LogLevel.Error,
        Message = "{Method} failed with an internal error")]
    public static partial void InternalError(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 3401, EventName = "ApiDataStoreUnavailable", Level = LogLevel.Warning,
        Message = "{Method} failed: {Reason}")]
    public static partial void DataStoreUnavailable(ILogger logger, string method, string reason);

    [LoggerMessage(EventId = 3402, EventName = "ApiSigningBusy", Level = LogLevel.Debug,
        Message = "signing refused: all {Limit} signing slots are in use; retry after {RetryAfterMs} ms")]
    public static partial void SigningBusy(ILogger logger, int limit, int retryAfterMs);

    [LoggerMessage(EventId = 3403, EventName = "ApiAgentRefused", Level = LogLevel.Warning,
        Message = "agent API call refused: {Reason}")]
    public static partial void AgentRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 3404, EventName = "ApiAgentAttested", Level = LogLevel.Information,
        Message = "agent {AgentId} attested with a join token; svid serial {Serial} expires {NotAfter:O}")]
    public static partial void AgentAttested(ILogger logger, SpiffeId agentId, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3405, EventName = "ApiAgentRenewed", Level = LogLevel.Information,
        Message = "agent {AgentId} renewed its svid; serial {Serial} expires {NotAfter:O}")]
    public static partial void AgentRenewed(ILogger logger, SpiffeId agentId, string serial, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 3406, EventName = "ApiEntrySnapshotRefreshed", Level = LogLevel.Debug,
        Message = "entry snapshot at revision {Revision}: {Count} entries")]
    public static partial void EntrySnapshotRefreshed(ILogger logger, long revision, int count);

    [LoggerMessage(EventId = 3407, EventName = "ApiAdminMint", Level = LogLevel.Information,
        Message = "admin minted a {Kind} svid for {SpiffeId}")]
    public static partial void AdminMint(ILogger logger, string kind, SpiffeId spiffeId);

    [LoggerMessage(EventId = 3408, EventName = "ApiBundleChanged", Level = LogLevel.Information,
        Message = "admin {Action} the bundle of {TrustDomain}")]
    public static partial void BundleChanged(ILogger logger, string action, string trustDomain);

    [LoggerMessage(EventId = 3420, EventName = "ApiBundleFeedFailed", Level = LogLevel.Warning,
        Message = "the bundle change feed could not read the datastore: {Reason}")]
    public static partial void BundleFeedFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3409, EventName = "ApiFederationChanged", Level = LogLevel.Information,
        Message = "admin {Action} the federation relationship with {TrustDomain}")]
    public static partial void FederationChanged(ILogger logger, string action, string trustDomain);

    [LoggerMessage(EventId = 3410, EventName = "ApiPolicyApplied", Level = LogLevel.Information,
        Message = "admin applied policy {Name}: version {Version} ({Outcome})")]
    public static partial void PolicyApplied(ILogger logger, string name, long version, string outcome);

    /// <summary>The category of every API log event.</summary>
    public const string Category = "Anchorage.Server.Api";
}
