namespace Anchorage.Server.Federation;

/// <summary>
/// The governance view of one relationship (issue 5 item 6), as of one instant: the declaration,
/// the refresher's state, the stored bundle's sequence and earliest anchor expiry, how many entries
/// federate with it, and the flags computed by <see cref="FederationStatusView"/>.
/// </summary>
public sealed record FederationStatus
{
    /// <summary>The declaration.</summary>
    public required FederationRelationship Relationship { get; init; }

    /// <summary>The refresher's record.</summary>
    public required FederationRefreshState State { get; init; }

    /// <summary>The stored bundle's <c>spiffe_sequence</c>; 0 when no bundle is stored or it has none.</summary>
    public ulong Sequence { get; init; }

    /// <summary>The earliest <c>NotAfter</c> over the stored bundle's X.509 authorities; null when there are none.</summary>
    public DateTimeOffset? EarliestAnchorExpiry { get; init; }

    /// <summary>How many registration entries name the trust domain in <c>federatesWith</c>.</summary>
    public long FederatingEntries { get; init; }

    /// <summary>The flags that hold, in the order <c>stale</c>, <c>unused</c>, <c>expiring</c>, <c>never-fetched</c>, <c>review-due</c>.</summary>
    public required IReadOnlyList<string> Flags { get; init; }

    /// <summary><c>approved</c>, <c>pending</c> or <c>not-required</c> (see <see cref="FederationApprovalRules"/>).</summary>
    public string Approval { get; init; } = FederationApprovalRules.NotRequired;

    /// <summary>When the relationship is due for review; null for no review date.</summary>
    public DateTimeOffset? ReviewDueAt { get; init; }

    /// <summary>Whether agents receive the bundle now.</summary>
    public bool Distributed { get; init; } = true;

    /// <summary>Lifecycle coherence; null when not computed (no refresh floor given).</summary>
    public FederationCoherence? Coherence { get; init; }

    /// <summary>What each agent reported of the trust domain (observed use); empty when none reported.</summary>
    public IReadOnlyList<FederationUsage> Usage { get; init; } = [];

    /// <summary>Why <c>unused</c> is a flag; null when it is not.</summary>
    public string? UnusedReason { get; init; }

    /// <summary><c>governance.unusedAfter</c> as applied; null when traffic was not considered.</summary>
    public TimeSpan? UnusedAfter { get; init; }

    /// <summary>The latest fetches of the bundle endpoint, newest first (the fetch history); empty when none are known.</summary>
    public IReadOnlyList<FederationFetch> Fetches { get; init; } = [];

    /// <summary>The sequence of the bundle each agent last reported holding; empty when none reported.</summary>
    public IReadOnlyList<FederationHeldBundle> Held { get; init; } = [];
}
