namespace Anchorage.Agent.Attestation;

/// <summary>How the agent learned who opened a connection (docs/agent.md, "Connect-time attribution").</summary>
public enum AttributionMode
{
    /// <summary>From the facts the agent's eBPF programs recorded at <c>connect()</c>.</summary>
    Kernel,

    /// <summary>From user space (/proc, <c>SO_PEERCRED</c>), with the fallback checks.</summary>
    Fallback,
}
