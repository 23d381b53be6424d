namespace Anchorage.Agent.Attestation;

/// <summary>Finds the selectors of a workload process that called the agent.</summary>
public interface IWorkloadAttestor
{
    /// <summary>Gathers the selectors of <paramref name="peer"/>.</summary>
    /// <exception cref="WorkloadAttestationException">
    /// The process exited or was replaced while it was attested, or its facts cannot be read.
    /// </exception>
    ValueTask<WorkloadAttestation> AttestAsync(PeerProcess peer, CancellationToken cancellationToken);
}
