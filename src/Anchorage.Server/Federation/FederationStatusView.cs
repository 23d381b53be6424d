using Anchorage.Foundation.Config;
using Anchorage.Foundation.Text;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Federation;

/// <summary>
/// The one place where a relationship's governance flags are decided, so the admin API, the
/// inventory and the metrics agree. Every rule compares with one instant from the server's clock.
/// </summary>
/// <remarks>
/// Flags (issue 5 item 6):
/// <list type="bullet">
/// <item><c>stale</c>: the last successful refresh is more than <c>maxStaleness</c> ago; or, never
/// fetched, the relationship was created more than <c>maxStaleness</c> ago (a bootstrap bundle does
/// not count as fresh forever). Exactly <c>maxStaleness</c> is still fresh.</item>
/// <item><c>unused</c>: no registration entry federates with the trust domain; or, when observed use
/// is given (issue 15 item 3), no agent reported an allowed connection or validated token with it
/// within <c>governance.unusedAfter</c> (counted from the relationship's creation when none was ever
/// reported). Denied attempts are not use. <see cref="FederationStatus.UnusedReason"/> says which.</item>
/// <item><c>expiring</c>: even the NEWEST X.509 authority of the stored bundle (the one expiring
/// last) expires within <see cref="ExpiringWindow"/> (7 days) or within a third of its own lifetime,
/// whichever is shorter, or has expired. A peer that rotates on schedule publishes its next
/// authority at half life (SPIRE's prepare), so its newest anchor never gets that close; an old
/// anchor nearing its end while a newer one is published is rotation working, not a warning.
/// The window scales with the lifetime so that 24-hour CAs are not flagged for ever. No stored
/// bundle: not expiring. <see cref="FederationStatus.EarliestAnchorExpiry"/> still reports the
/// first anchor to go.</item>
/// <item><c>never-fetched</c>: no fetch has ever succeeded (the stored bundle, if any, is the bootstrap one).</item>
/// <item><c>slow-revocation</c>, <c>no-rotation-overlap</c>: from <see cref="FederationCoherence"/>.</item>
/// <item><c>review-due</c>: from <see cref="FederationApprovalRules"/> (pending is the approval state, not a flag).</item>
/// </list>
/// </remarks>
public static class FederationStatusView
{
    /// <summary>The flag for a bundle older than its freshness SLO.</summary>
    public const string Stale = "stale";

    /// <summary>The flag for a relationship no entry federates with.</summary>
    public const string Unused = "unused";

    /// <summary>The flag for a bundle with an anchor that expires within <see cref="ExpiringWindow"/>.</summary>
    public const string Expiring = "expiring";

    /// <summary>The flag for a relationship whose endpoint has never answered with an accepted bundle.</summary>
    public const string NeverFetched = "never-fetched";

    /// <summary>The longest window for <see cref="Expiring"/>: 7 days (shorter for authorities that live less than 21 days).</summary>
    public static readonly TimeSpan ExpiringWindow = TimeSpan.FromDays(7);

    /// <summary>The status of one relationship as of <paramref name="now"/>.</summary>
    /// <param name="relationship">The declaration.</param>
    /// <param name="state">The refresher's record.</param>
    /// <param name="bundle">The trust domain's stored bundle; null when none is stored.</param>
    /// <param name="federatingEntries">How many entries federate with the trust domain.</param>
    /// <param name="now">The server's current time.</param>
    /// <param name="refreshFloor">This server's <c>federation.refreshFloor</c>; when given, the lifecycle coherence is computed and its flags added (issue 15 item 2).</param>
    /// <param name="approval">The approval rules (adds <c>review-due</c> and the approval state); null for none (issue 15 item 1).</param>
    /// <param name="usage">The agents' reports for the trust domain; null: traffic is not considered (issue 15 item 3).</param>
    /// <param name="unusedAfter"><c>governance.unusedAfter</c>; used with <paramref name="usage"/>.</param>
    /// <param name="fetches">The fetch history, newest first; null: none known (issue 16 item 2).</param>
    public static FederationStatus Compute(
        FederationRelationship relationship,
        FederationRefreshState state,
        SpiffeBundle? bundle,
        long federatingEntries,
        DateTimeOffset now,
        FederationApprovalRules? approval = null,
        TimeSpan? refreshFloor = null,
        IReadOnlyList<FederationUsage>? usage = null,
        TimeSpan? unusedAfter = null,
        IReadOnlyList<FederationFetch>? fetches = null)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        ArgumentNullException.ThrowIfNull(state);
        ArgumentOutOfRangeException.ThrowIfNegative(federatingEntries);

        DateTimeOffset? earliest = null;
        DateTimeOffset? newest = null;
        var newestWindow = ExpiringWindow;
        if (bundle is not null)
        {
            foreach (var authority in bundle.X509Authorities)
            {
                var notAfter = new DateTimeOffset(authority.NotAfter.ToUniversalTime(), TimeSpan.Zero);
                if (earliest is null || notAfter < earliest)
                {
                    earliest = notAfter;
                }

                if (newest is null || notAfter > newest)
                {
                    newest = notAfter;
                    var lifetime = notAfter - new DateTimeOffset(authority.NotBefore.ToUniversalTime(), TimeSpan.Zero);
                    newestWindow = TimeSpan.FromTicks(Math.Min(ExpiringWindow.Ticks, Math.Max(0, lifetime.Ticks / 3)));
                }
            }
        }

        var flags = new List<string>(4);
        var freshSince = state.LastSuccess ?? relationship.CreatedAt;
        if (now - freshSince > relationship.MaxStaleness)
        {
            flags.Add(Stale);
        }

        var unusedReason = UnusedReason(relationship, federatingEntries, usage, unusedAfter, now);
        if (unusedReason is not null)
        {
            flags.Add(Unused);
        }

        if (newest is { } expiry && expiry - now <= newestWindow)
        {
            flags.Add(Expiring);
        }

        if (state.LastSuccess is null)
        {
            flags.Add(NeverFetched);
        }

        if (approval is not null)
        {
            flags.AddRange(approval.Flags(relationship, now));
        }

        var coherence = refreshFloor is { } floor ? FederationCoherence.Compute(relationship, state, bundle, floor, now, fetches) : null;
        if (coherence is not null)
        {
            flags.AddRange(coherence.Flags);
        }

        return new FederationStatus
        {
            Approval = approval?.StateOf(relationship) ?? FederationApprovalRules.NotRequired,
            ReviewDueAt = approval?.ReviewDueAt(relationship),
            Distributed = approval?.IsDistributed(relationship, now) ?? true,
            Coherence = coherence,
            Relationship = relationship,
            State = state,
            Sequence = bundle?.SequenceNumber ?? 0,
            EarliestAnchorExpiry = earliest,
            FederatingEntries = federatingEntries,
            Flags = flags,
            Usage = usage ?? [],
            UnusedReason = unusedReason,
            UnusedAfter = usage is null ? null : unusedAfter,
            Fetches = fetches ?? [],
        };
    }

    private static string? UnusedReason(
        FederationRelationship relationship, long federatingEntries, IReadOnlyList<FederationUsage>? usage, TimeSpan? unusedAfter, DateTimeOffset now)
    {
        if (federatingEntries == 0)
        {
            return "no entry federates with it";
        }

        if (usage is null || unusedAfter is not { } window)
        {
            return null;
        }

        var last = usage.Where(u => u.Allowed > 0).Select(u => u.LastAllowed).Max();
        var since = last ?? relationship.CreatedAt;
        if (now - since <= window)
        {
            return null;
        }

        var after = Durations.Format(window);
        return last is { } seen
            ? $"no connection since {Rfc3339.Format(seen)} (governance.unusedAfter {after})"
            : $"no connection seen since it was created (governance.unusedAfter {after})";
    }
}
