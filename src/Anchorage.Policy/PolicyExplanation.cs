namespace Anchorage.Policy;

/// <summary>A decision with its reasons (see <see cref="CompiledPolicy.Explain"/>).</summary>
/// <param name="Decision">The decision, as <see cref="CompiledPolicy.Decide"/> makes it.</param>
/// <param name="Considered">Every rule whose <c>from</c> or <c>to</c> pattern names one of the request's IDs, in file order.</param>
/// <param name="RuleCount">How many rules the policy has (the others name neither ID).</param>
public sealed record PolicyExplanation(PolicyDecision Decision, IReadOnlyList<RuleEvaluation> Considered, int RuleCount);
