using Anchorage.Agent.Attestation;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Set on every Workload API connection: the process that opened it, pinned by a pidfd, or why
/// none was found. Found once per connection; disposed (pidfd closed) when the connection ends.
/// </summary>
internal sealed class WorkloadPeerFeature : IDisposable
{
    private WorkloadPeerFeature(PeerProcess? process, string? failure)
    {
        Process = process;
        Failure = failure;
    }

    /// <summary>The peer; null when none was found.</summary>
    public PeerProcess? Process { get; }

    /// <summary>Why no peer was found (one short lowercase line); null when found.</summary>
    public string? Failure { get; }

    public static WorkloadPeerFeature Found(PeerProcess process) => new(process, null);

    public static WorkloadPeerFeature NotFound(string reason) => new(null, reason);

    public void Dispose() => Process?.Dispose();
}
