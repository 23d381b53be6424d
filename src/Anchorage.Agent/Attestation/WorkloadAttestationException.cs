using Anchorage.Spiffe;

namespace Anchorage.Agent.Attestation;

/// <summary>
/// A workload could not be attested, e.g. the process exited while its facts were gathered.
/// The message is one short lowercase line naming what went wrong.
/// </summary>
public sealed class WorkloadAttestationException : SpiffeException
{
    public WorkloadAttestationException(string message)
        : base(message)
    {
    }

    public WorkloadAttestationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
