namespace Anchorage.Policy;

/// <summary>The outcome of a <see cref="PolicyRequest"/>. A denial is a result, not an exception.</summary>
/// <param name="Allowed">True when the connection may proceed (also for a <see cref="WouldDeny"/> decision).</param>
/// <param name="Rule">The deciding rule's name, or <see cref="DefaultRule"/> when no rule matched (deny).</param>
/// <param name="PolicyVersion">The version of the policy that decided.</param>
public sealed record PolicyDecision(bool Allowed, string Rule, string PolicyVersion)
{
    /// <summary>The rule name of the deny-by-default outcome.</summary>
    public const string DefaultRule = "default";

    /// <summary><see cref="Outcome"/> of an allowed connection.</summary>
    public const string AllowOutcome = "allow";

    /// <summary><see cref="Outcome"/> of a refused connection.</summary>
    public const string DenyOutcome = "deny";

    /// <summary><see cref="Outcome"/> of a denial a policy in <see cref="PolicyMode.Audit"/> only records.</summary>
    public const string WouldDenyOutcome = "would-deny";

    /// <summary>
    /// True when <see cref="Rule"/> denies but the policy is in <see cref="PolicyMode.Audit"/>:
    /// <see cref="Allowed"/> is then true, the connection proceeds and is recorded as <c>would-deny</c>.
    /// </summary>
    public bool WouldDeny { get; init; }

    /// <summary><c>allow</c>, <c>deny</c> or <c>would-deny</c>: the audit record's <c>decision</c>.</summary>
    public string Outcome => WouldDeny ? WouldDenyOutcome : Allowed ? AllowOutcome : DenyOutcome;

    /// <summary><c>allow &lt;rule&gt;</c>, <c>deny &lt;rule|default&gt;</c> or <c>would-deny &lt;rule|default&gt;</c>.</summary>
    public override string ToString() => Outcome + " " + Rule;
}
