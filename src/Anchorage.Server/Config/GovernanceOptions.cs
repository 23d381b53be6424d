using Anchorage.Server.Federation;

namespace Anchorage.Server.Config;

/// <summary><c>governance:</c> how federation relationships are reviewed and retired (issue 15).</summary>
public sealed record GovernanceOptions
{
    /// <summary>The default of <see cref="UnusedAfter"/>: 30 days.</summary>
    public static readonly TimeSpan DefaultUnusedAfter = TimeSpan.FromDays(30);

    /// <summary>What a relationship past its review date does: <c>flag</c> (default) or <c>suspend</c> (agents stop receiving its bundle).</summary>
    public ReviewDueAction OnReviewDue { get; init; } = ReviewDueAction.Flag;

    /// <summary>
    /// Observed use (issue 15 item 3): a relationship for which no agent reported an allowed connection
    /// (or a validated JWT-SVID) for this long is flagged <c>unused</c>, counted from its creation when
    /// none was ever reported. Default 30d, at least 1m.
    /// </summary>
    public TimeSpan UnusedAfter { get; init; } = DefaultUnusedAfter;

    /// <summary>The approval rules these options and <paramref name="federation"/> make.</summary>
    public FederationApprovalRules ApprovalRules(FederationOptions federation)
    {
        ArgumentNullException.ThrowIfNull(federation);
        return new FederationApprovalRules(federation.RequireApproval, OnReviewDue);
    }
}
