namespace Anchorage.Server.Federation;

/// <summary>
/// The one place that decides whether a relationship's bundle may be handed to agents (issue 15
/// item 1), so the agent API, the bundle change feed and the admin API's status agree: a relationship
/// is <c>pending</c> until approved when <c>federation.requireApproval</c> holds (the default); its
/// approval is due for review <c>spec.reviewEvery</c> after it was given; past that date it is
/// flagged <c>review-due</c>, and with <c>governance.onReviewDue: suspend</c> it is withheld as a
/// pending one is. A bundle stored without a relationship (<c>bundle set</c>) is the operator's own
/// act and is not governed here.
/// </summary>
public sealed class FederationApprovalRules
{
    /// <summary>The approval state of a relationship that waits for approval (a state, shown in its own field, not a flag).</summary>
    public const string Pending = "pending";

    /// <summary>The flag of a relationship past its review date.</summary>
    public const string ReviewDue = "review-due";

    /// <summary>The approval state of an approved relationship.</summary>
    public const string Approved = "approved";

    /// <summary>The approval state when <c>federation.requireApproval: false</c> and nobody approved it.</summary>
    public const string NotRequired = "not-required";

    /// <summary>Rules with the defaults: approval required, review-due only flagged.</summary>
    public static FederationApprovalRules Default { get; } = new(requireApproval: true, ReviewDueAction.Flag);

    /// <summary>Creates the rules.</summary>
    public FederationApprovalRules(bool requireApproval, ReviewDueAction onReviewDue)
    {
        RequireApproval = requireApproval;
        OnReviewDue = onReviewDue;
    }

    /// <summary><c>federation.requireApproval</c>.</summary>
    public bool RequireApproval { get; }

    /// <summary><c>governance.onReviewDue</c>.</summary>
    public ReviewDueAction OnReviewDue { get; }

    /// <summary><see cref="Approved"/>, <see cref="Pending"/> or <see cref="NotRequired"/>.</summary>
    public string StateOf(FederationRelationship relationship)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        return relationship.Approval is not null ? Approved : RequireApproval ? Pending : NotRequired;
    }

    /// <summary>
    /// When the relationship is due for review: its approval time (or, with approval not required and
    /// none given, its creation) plus <c>reviewEvery</c>; null when it has no review interval or is pending.
    /// </summary>
    public DateTimeOffset? ReviewDueAt(FederationRelationship relationship)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        if (relationship.ReviewEvery is not { } every)
        {
            return null;
        }

        var since = relationship.Approval?.ApprovedAt ?? (RequireApproval ? (DateTimeOffset?)null : relationship.CreatedAt);
        return since + every;
    }

    /// <summary>True when <paramref name="now"/> is past the review date (exactly at it is not yet due).</summary>
    public bool IsReviewDue(FederationRelationship relationship, DateTimeOffset now) =>
        ReviewDueAt(relationship) is { } due && now > due;

    /// <summary>True when agents may receive the relationship's bundle at <paramref name="now"/>.</summary>
    public bool IsDistributed(FederationRelationship relationship, DateTimeOffset now) =>
        StateOf(relationship) != Pending && !(OnReviewDue == ReviewDueAction.Suspend && IsReviewDue(relationship, now));

    /// <summary>The approval flag (<see cref="ReviewDue"/>) of the relationship at <paramref name="now"/>; <see cref="Pending"/> is a state, not a flag.</summary>
    public IEnumerable<string> Flags(FederationRelationship relationship, DateTimeOffset now)
    {
        if (IsReviewDue(relationship, now))
        {
            yield return ReviewDue;
        }
    }

    /// <summary>
    /// True when <paramref name="next"/> points at another endpoint than <paramref name="previous"/>
    /// (URL, profile or endpoint SPIFFE ID): the approval of the old one does not carry over.
    /// </summary>
    public static bool EndpointChanged(FederationRelationship previous, FederationRelationship next)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(next);
        return !string.Equals(previous.Url.OriginalString, next.Url.OriginalString, StringComparison.Ordinal)
            || previous.Profile != next.Profile
            || previous.EndpointSpiffeId != next.EndpointSpiffeId;
    }
}
