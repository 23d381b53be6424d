using Anchorage.Spiffe.Ids;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Cache;

/// <summary>The identity cache's log events. Never a key or a token.</summary>
internal static partial class CacheLog
{
    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "sync with the server failed ({Code}: {Detail}); serving cached identities, retrying in {Delay}")]
    public static partial void SyncFailed(ILogger logger, StatusCode code, string detail, TimeSpan delay);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "sync with the server recovered")]
    public static partial void SyncRecovered(ILogger logger);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "federated bundle of \"{TrustDomain}\" skipped: {Reason}")]
    public static partial void FederatedBundleSkipped(ILogger logger, string trustDomain, string reason);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Warning, Message = "entry {EntryId} skipped: {Reason}")]
    public static partial void EntrySkipped(ILogger logger, string entryId, string reason);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "no svid for entry {EntryId}: {Code}: {Detail}")]
    public static partial void SvidRefused(ILogger logger, string entryId, StatusCode code, string detail);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Information, Message = "svid for entry {EntryId} ({SpiffeId}) issued, expires {NotAfter:u} (rotation: {Rotated})")]
    public static partial void SvidIssued(ILogger logger, string entryId, SpiffeId spiffeId, DateTime notAfter, bool rotated);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "no jwt-svid for entry {EntryId}: {Code}: {Detail}")]
    public static partial void JwtMintFailed(ILogger logger, string entryId, StatusCode code, string detail);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Debug, Message = "jwt-svid mint for entry {EntryId} refused: more than {PerSecond} per second")]
    public static partial void JwtMintRateLimited(ILogger logger, string entryId, int perSecond);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Warning, Message = "usage report refused by the server, its counts dropped: {Detail}")]
    public static partial void UsageRefused(ILogger logger, string detail);
}
