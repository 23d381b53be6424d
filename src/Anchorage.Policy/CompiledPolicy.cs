namespace Anchorage.Policy;

/// <summary>
/// A <see cref="CommunicationPolicy"/> ready for connect-time decisions. Immutable and safe to
/// share between threads; a new policy is a new instance.
/// </summary>
public sealed class CompiledPolicy
{
    private readonly CommunicationPolicy _policy;

    private CompiledPolicy(CommunicationPolicy policy, string version)
    {
        _policy = policy;
        Version = version;
    }

    /// <summary>A policy with no rules: everything is denied by default.</summary>
    public static CompiledPolicy DenyAll { get; } = new(new CommunicationPolicy("deny-all", []), "none");

    /// <summary>The policy's version (server-assigned, or derived from a local file's content).</summary>
    public string Version { get; }

    /// <summary>The policy's name.</summary>
    public string Name => _policy.Name;

    /// <summary>The rules compiled.</summary>
    public IReadOnlyList<PolicyRule> Rules => _policy.Rules;

    /// <summary>Compiles <paramref name="policy"/> under <paramref name="version"/>.</summary>
    public static CompiledPolicy Compile(CommunicationPolicy policy, string version)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentException.ThrowIfNullOrEmpty(version);
        return new CompiledPolicy(policy, version);
    }

    /// <summary>Decides <paramref name="request"/>: a matching deny wins, else a matching allow, else deny by default.</summary>
    public PolicyDecision Decide(in PolicyRequest request)
    {
        // Placeholder evaluation (linear scan) until the index lands; same semantics.
        PolicyRule? allow = null;
        foreach (var rule in _policy.Rules)
        {
            if (!Matches(rule, request))
            {
                continue;
            }

            if (rule.Action == PolicyAction.Deny)
            {
                return new PolicyDecision(false, rule.Name, Version);
            }

            allow ??= rule;
        }

        return allow is null
            ? new PolicyDecision(false, PolicyDecision.DefaultRule, Version)
            : new PolicyDecision(true, allow.Name, Version);
    }

    private static bool Matches(PolicyRule rule, in PolicyRequest request)
    {
        if (!rule.From.Identity.Matches(request.From) || !rule.To.Identity.Matches(request.To))
        {
            return false;
        }

        if (rule.To.Port is { } port && port != request.Port)
        {
            return false;
        }

        foreach (var selector in rule.From.Selectors)
        {
            if (!request.FromSelectors.Contains(selector))
            {
                return false;
            }
        }

        return true;
    }
}
