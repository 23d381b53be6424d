using System.Collections.Immutable;

namespace Anchorage.Server.Ca;

/// <summary>The outcome of <see cref="RotationPlanner.Plan(IReadOnlyList{AuthorityRecord}, DateTimeOffset)"/>.</summary>
/// <param name="Action">What to do now.</param>
/// <param name="Authority">For <see cref="RotationAction.Activate"/>: the prepared authority to activate.</param>
/// <param name="Previous">For <see cref="RotationAction.Activate"/>: the active authority that becomes Old (null when none).</param>
/// <param name="Expired">For <see cref="RotationAction.Retire"/>: every authority whose notAfter has passed.</param>
/// <param name="NextDecisionAt">When the plan next changes if nothing else happens (null when it is due now or never).</param>
public sealed record RotationDecision(
    RotationAction Action,
    AuthorityRecord? Authority,
    AuthorityRecord? Previous,
    ImmutableArray<AuthorityRecord> Expired,
    DateTimeOffset? NextDecisionAt);
