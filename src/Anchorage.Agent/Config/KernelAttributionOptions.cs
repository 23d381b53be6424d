namespace Anchorage.Agent.Config;

/// <summary>
/// <c>attestation.kernel</c>: the eBPF programs that record who calls <c>connect()</c>
/// (docs/agent.md, "Connect-time attribution").
/// </summary>
public sealed record KernelAttributionOptions
{
    /// <summary>The environment variable that forces <see cref="KernelAttributionMode.Off"/> (value <c>off</c>), e.g. to run the attack suite in fallback mode.</summary>
    public const string ForceOffVariable = "ANCHORAGE_KERNEL_ATTRIBUTION";

    /// <summary><c>mode</c>: auto (default), required or off.</summary>
    public KernelAttributionMode Mode { get; init; } = KernelAttributionMode.Auto;

    /// <summary>
    /// <c>cgroups</c>: cgroup v2 directories (absolute, not the root cgroup) whose processes are
    /// attributed from connect-time records. Empty: no programs are attached (fallback).
    /// </summary>
    public IReadOnlyList<string> Cgroups { get; init; } = [];
}
