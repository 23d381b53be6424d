using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore;

/// <summary>
/// Filters for listing entries; every set filter must match. Paging: pass the previous page's
/// <see cref="EntryPage.NextPageToken"/> as <see cref="PageToken"/>.
/// </summary>
public sealed record EntryQuery
{
    /// <summary>Entries whose parent is one of these (e.g. an agent and its aliases).</summary>
    public IReadOnlyCollection<SpiffeId>? ParentIds { get; init; }

    public SpiffeId SpiffeId { get; init; }

    /// <summary>Entries holding this selector.</summary>
    public Selector? Selector { get; init; }

    /// <summary>Entries that federate with this trust domain.</summary>
    public TrustDomain FederatesWith { get; init; }

    /// <summary>Page size, 1..10000.</summary>
    public int PageSize { get; init; } = 1000;

    public string? PageToken { get; init; }
}
