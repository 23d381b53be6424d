using Anchorage.Server.Registration;

namespace Anchorage.Server.DataStore;

/// <summary>
/// Entry changes after a revision: entries created or updated (their latest state), ids
/// deleted, and the revision to ask from next time. <see cref="HasMore"/> when the limit cut the list.
/// </summary>
public sealed record EntryChanges(
    IReadOnlyList<RegistrationEntry> Upserted,
    IReadOnlyList<string> DeletedIds,
    long Revision,
    bool HasMore);
