using Anchorage.Foundation.Selectors;

namespace Anchorage.Agent.Attestation;

/// <summary>The selectors an attestor found for one workload process.</summary>
public sealed class WorkloadAttestation
{
    /// <param name="processId">The attested process.</param>
    /// <param name="selectors">The facts found about it.</param>
    public WorkloadAttestation(int processId, IReadOnlyList<Selector> selectors)
    {
        ArgumentNullException.ThrowIfNull(selectors);
        ProcessId = processId;
        Selectors = selectors;
    }

    /// <summary>The attested process.</summary>
    public int ProcessId { get; }

    /// <summary>The facts found about the process.</summary>
    public IReadOnlyList<Selector> Selectors { get; }
}
