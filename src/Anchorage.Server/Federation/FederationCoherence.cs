using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Federation;

/// <summary>
/// Lifecycle coherence of one relationship (issue 15 item 2), from what the server observes: the
/// peer's published refresh hint, the interval this server actually polls at, the lifetimes and
/// overlap of the published X.509 authorities, the age of the oldest one, whether a rotation was seen
/// without overlap, and the worst-case time for a peer's revocation to reach our workloads.
/// </summary>
/// <remarks>
/// <para>Worst-case revocation time = poll interval + agent propagation, where the poll interval is
/// <c>max(refreshFloor, peer refresh hint or 5m)</c> (what <see cref="FederationRefresher"/> waits
/// between two successful fetches) and the agent propagation is the bundle change feed's read interval
/// (1 s) plus the agents' pull. A peer that removes an authority is trusted by our workloads for up to
/// that long. Flags: <c>slow-revocation</c> when it exceeds <c>maxStaleness</c>;
/// <c>no-rotation-overlap</c> when two published authorities do not overlap (the successor starts
/// after its predecessor ends), or a fetch replaced every authority at once (the new one was not
/// published before the old one went).</para>
/// </remarks>
public sealed record FederationCoherence
{
    /// <summary>The flag for a worst-case revocation time beyond <c>maxStaleness</c>.</summary>
    public const string SlowRevocation = "slow-revocation";

    /// <summary>The flag for a peer seen rotating without overlap.</summary>
    public const string NoRotationOverlap = "no-rotation-overlap";

    /// <summary>Flag: the peer's clock (its endpoint's HTTP <c>Date</c>) differs from ours by more than <see cref="MaxClockSkew"/>.</summary>
    public const string Skew = "skew";

    /// <summary>
    /// The clock skew tolerated before <see cref="Skew"/> is flagged: 30 s, the leeway JWT-SVID
    /// validation allows (<see cref="Anchorage.Spiffe.Svids.JwtSvidValidator.DefaultLeeway"/>); beyond
    /// it the peer's fresh tokens look not yet valid here, or ours there, and SVIDs rotated near
    /// their expiry fail on one side first.
    /// </summary>
    public static readonly TimeSpan MaxClockSkew = Anchorage.Spiffe.Svids.JwtSvidValidator.DefaultLeeway;

    /// <summary>
    /// How long agents take to hear of a stored bundle change: the change feed's read interval (1 s);
    /// the watch stream then tells them at once and their pull is one round trip.
    /// </summary>
    public static readonly TimeSpan AgentPropagation = TimeSpan.FromSeconds(1);

    /// <summary>The refresh hint the peer publishes; null when its bundle has none (or none is stored).</summary>
    public TimeSpan? PeerRefreshHint { get; init; }

    /// <summary>How often this server fetches the bundle while fetches succeed.</summary>
    public required TimeSpan PollInterval { get; init; }

    /// <summary><see cref="PollInterval"/> + <see cref="AgentPropagation"/>.</summary>
    public required TimeSpan WorstCaseRevocation { get; init; }

    /// <summary>The shortest lifetime among the published X.509 authorities; null for none.</summary>
    public TimeSpan? ShortestAuthorityLifetime { get; init; }

    /// <summary>The smallest overlap between consecutive published X.509 authorities (negative: a gap); null with fewer than two.</summary>
    public TimeSpan? SmallestOverlap { get; init; }

    /// <summary>How long ago the oldest published X.509 authority started; null for none.</summary>
    public TimeSpan? OldestAuthorityAge { get; init; }

    /// <summary>When a fetch last replaced every X.509 authority at once; null for never.</summary>
    public DateTimeOffset? RotationWithoutOverlapAt { get; init; }

    /// <summary>The peer's clock minus ours at the last successful fetch (<see cref="FederationRefreshState.ClockSkew"/>); null: never measured.</summary>
    public TimeSpan? ClockSkew { get; init; }

    /// <summary>How often the peer's sequence changed, from the fetch history (<see cref="FederationSequenceChanges.None"/> when none is given).</summary>
    public FederationSequenceChanges SequenceChanges { get; init; } = FederationSequenceChanges.None;

    /// <summary>The coherence flags that hold: <see cref="SlowRevocation"/>, <see cref="NoRotationOverlap"/>, <see cref="Skew"/>.</summary>
    public required IReadOnlyList<string> Flags { get; init; }

    /// <summary>Computes the coherence of <paramref name="relationship"/> with its stored <paramref name="bundle"/> as of <paramref name="now"/>; <paramref name="fetches"/> is its fetch history, if known.</summary>
    public static FederationCoherence Compute(
        FederationRelationship relationship, FederationRefreshState state, SpiffeBundle? bundle, TimeSpan refreshFloor, DateTimeOffset now,
        IReadOnlyList<FederationFetch>? fetches = null)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        ArgumentNullException.ThrowIfNull(state);
        var hint = bundle?.RefreshHint is { } h && h > TimeSpan.Zero ? h : (TimeSpan?)null;
        var poll = hint ?? FederationRefresher.DefaultRefreshHint;
        if (poll < refreshFloor)
        {
            poll = refreshFloor;
        }

        var spans = (bundle?.X509Authorities ?? [])
            .Select(a => (From: new DateTimeOffset(a.NotBefore.ToUniversalTime(), TimeSpan.Zero), To: new DateTimeOffset(a.NotAfter.ToUniversalTime(), TimeSpan.Zero)))
            .OrderBy(s => s.From)
            .ToList();
        TimeSpan? smallestOverlap = null;
        for (var i = 1; i < spans.Count; i++)
        {
            var overlap = spans[i - 1].To - spans[i].From;
            smallestOverlap = smallestOverlap is { } o && o < overlap ? o : overlap;
        }

        var worst = poll + AgentPropagation;
        var flags = new List<string>(3);
        if (worst > relationship.MaxStaleness)
        {
            flags.Add(SlowRevocation);
        }

        if (smallestOverlap is { } gap && gap <= TimeSpan.Zero || state.RotationWithoutOverlapAt is not null)
        {
            flags.Add(NoRotationOverlap);
        }

        if (state.ClockSkew is { } skew && skew.Duration() > MaxClockSkew)
        {
            flags.Add(Skew);
        }

        return new FederationCoherence
        {
            PeerRefreshHint = hint,
            PollInterval = poll,
            WorstCaseRevocation = worst,
            ShortestAuthorityLifetime = spans.Count == 0 ? null : spans.Min(s => s.To - s.From),
            SmallestOverlap = smallestOverlap,
            OldestAuthorityAge = spans.Count == 0 ? null : now - spans[0].From,
            RotationWithoutOverlapAt = state.RotationWithoutOverlapAt,
            ClockSkew = state.ClockSkew,
            SequenceChanges = fetches is null ? FederationSequenceChanges.None : FederationSequenceChanges.From(fetches),
            Flags = flags,
        };
    }
}
