using Anchorage.Agent.Attestation;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// Finds the local process a gate connection belongs to and pins it (a pidfd), so a pid reused
/// afterwards is never taken for it. Today <see cref="SocketAttributor"/> (SO_PEERCRED for unix
/// sockets, the socket's owner in /proc for loopback TCP); facts the kernel recorded at connect
/// time can answer the same question.
/// </summary>
internal interface IConnectionAttributor
{
    /// <summary>The process behind <paramref name="request"/>, pinned; the caller disposes it.</summary>
    /// <exception cref="WorkloadAttestationException">No such process can be found (the message says why).</exception>
    ValueTask<PeerProcess> FindAsync(AttributionRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Inbound, after dialing <paramref name="forward"/>: null while <paramref name="attested"/>
    /// (found for it by <see cref="FindAsync"/>) still owns every socket listening there; else why not.
    /// </summary>
    string? ListenerChange(PeerProcess attested, System.Net.IPEndPoint forward);
}
