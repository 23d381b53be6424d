using Anchorage.Server.Registration;

namespace Anchorage.Server.DataStore;

/// <summary>One page of entries; <see cref="NextPageToken"/> is null on the last page.</summary>
public sealed record EntryPage(IReadOnlyList<RegistrationEntry> Entries, string? NextPageToken);
