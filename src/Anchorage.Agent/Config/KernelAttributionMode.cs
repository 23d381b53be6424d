namespace Anchorage.Agent.Config;

/// <summary><c>attestation.kernel.mode</c>.</summary>
public enum KernelAttributionMode
{
    /// <summary>Load the eBPF programs when the kernel allows; otherwise say why once and use the fallback.</summary>
    Auto,

    /// <summary>The programs must load (the agent does not start otherwise), and connections they did not record get no identity.</summary>
    Required,

    /// <summary>Never load them: every connection is attributed by the fallback.</summary>
    Off,
}
