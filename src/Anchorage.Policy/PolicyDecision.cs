namespace Anchorage.Policy;

/// <summary>The outcome of a <see cref="PolicyRequest"/>. A denial is a result, not an exception.</summary>
/// <param name="Allowed">True when the connection may proceed.</param>
/// <param name="Rule">The deciding rule's name, or <see cref="DefaultRule"/> when no rule matched (deny).</param>
/// <param name="PolicyVersion">The version of the policy that decided.</param>
public sealed record PolicyDecision(bool Allowed, string Rule, string PolicyVersion)
{
    /// <summary>The rule name of the deny-by-default outcome.</summary>
    public const string DefaultRule = "default";

    /// <summary><c>allow &lt;rule&gt;</c> or <c>deny &lt;rule|default&gt;</c>.</summary>
    public override string ToString() => (Allowed ? "allow " : "deny ") + Rule;
}
