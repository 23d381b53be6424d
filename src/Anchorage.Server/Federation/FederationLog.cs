using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Federation;

/// <summary>Federation's log events: one per fetch (the audit record of what was trusted, from where).</summary>
internal static partial class FederationLog
{
    [LoggerMessage(EventId = 3601, Level = LogLevel.Information, Message = "federation fetch of {TrustDomain} from {Url}: accepted sequence {Sequence} (changed: {Changed}; authorities added [{Added}], removed [{Removed}])")]
    public static partial void FetchAccepted(ILogger logger, string trustDomain, Uri url, ulong? sequence, bool changed, IReadOnlyList<string> added, IReadOnlyList<string> removed);

    [LoggerMessage(EventId = 3602, Level = LogLevel.Warning, Message = "federation fetch of {TrustDomain} from {Url}: rejected, keeping the last good bundle: {Error} (failure {Failures} in a row)")]
    public static partial void FetchRejected(ILogger logger, string trustDomain, Uri url, string error, int failures);

    [LoggerMessage(EventId = 3603, Level = LogLevel.Warning, Message = "federation refresher: the datastore is unavailable: {Reason}")]
    public static partial void StoreUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 3604, Level = LogLevel.Information, Message = "federation refresh of {TrustDomain} ended: the relationship was deleted while it ran")]
    public static partial void DeletedDuringFetch(ILogger logger, string trustDomain);

    [LoggerMessage(EventId = 3605, Level = LogLevel.Error, Message = "federation refresher: this round of refreshes stopped ({Kind}): {Reason}; the next round starts at the next tick")]
    public static partial void TickFailed(ILogger logger, string kind, string reason);
}
