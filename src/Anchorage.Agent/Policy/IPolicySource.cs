using Anchorage.Policy;

namespace Anchorage.Agent.Policy;

/// <summary>
/// The communication policy the gate decides with: the server's (distributed with entries) or a
/// local file's (agent.yaml gate.policyFile). Until a policy is known, <see cref="Current"/> is
/// <see cref="CompiledPolicy.DenyAll"/>. A rejected update keeps the last good policy.
/// </summary>
public interface IPolicySource
{
    /// <summary>The policy new connections are decided with.</summary>
    CompiledPolicy Current { get; }

    /// <summary>Raised after <see cref="Current"/> changed; live connections are then re-checked.</summary>
    event EventHandler? Changed;
}
