namespace Anchorage.Policy;

/// <summary>How one rule fared against a request (see <see cref="CompiledPolicy.Explain"/>).</summary>
/// <param name="Rule">The rule.</param>
/// <param name="Index">Its position in the policy (0-based, file order).</param>
/// <param name="Matched">True when every check passed.</param>
/// <param name="Failures">
/// Each failed check, one short line each, e.g. <c>to.port: 443 is not 8443</c> or
/// <c>from.selectors: the process lacks unix:uid:0</c>; empty when <paramref name="Matched"/>.
/// </param>
public sealed record RuleEvaluation(PolicyRule Rule, int Index, bool Matched, IReadOnlyList<string> Failures);
