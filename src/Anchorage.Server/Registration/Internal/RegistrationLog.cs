using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Registration.Internal;

/// <summary>Registration log events, ids 3200-3249.</summary>
internal static partial class RegistrationLog
{
    [LoggerMessage(EventId = 3200, EventName = "EntryCreated", Level = LogLevel.Information,
        Message = "entry {EntryId} created: {SpiffeId} under {ParentId}, revision {Revision}")]
    public static partial void EntryCreated(ILogger logger, string entryId, SpiffeId spiffeId, SpiffeId parentId, long revision);

    [LoggerMessage(EventId = 3201, EventName = "EntryUpdated", Level = LogLevel.Information,
        Message = "entry {EntryId} updated: {SpiffeId} under {ParentId}, revision {Revision}")]
    public static partial void EntryUpdated(ILogger logger, string entryId, SpiffeId spiffeId, SpiffeId parentId, long revision);

    [LoggerMessage(EventId = 3202, EventName = "EntryDeleted", Level = LogLevel.Information,
        Message = "entry {EntryId} deleted")]
    public static partial void EntryDeleted(ILogger logger, string entryId);

    [LoggerMessage(EventId = 3203, EventName = "EntryRefused", Level = LogLevel.Information,
        Message = "entry refused: {Reason}")]
    public static partial void EntryRefused(ILogger logger, string reason);
}
