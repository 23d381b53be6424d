using Anchorage.Policy;

namespace Anchorage.Agent.Policy.Internal;

/// <summary>
/// PLACEHOLDER until FilePolicySource / ServerPolicySource (branch wt-policydist) are merged: a
/// policy that never changes, <see cref="CompiledPolicy.DenyAll"/> in the agent, so a gate
/// composed before then denies every connection by default.
/// </summary>
internal sealed class FixedPolicySource(CompiledPolicy policy) : IPolicySource
{
    public CompiledPolicy Current => policy;

    // Never raised: the policy never changes.
    public event EventHandler? Changed
    {
        add { }
        remove { }
    }
}
