using Anchorage.Agent.Attestation;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Set on every Workload API connection: who opened it (pid and uid, found once when it
/// connects), or why nobody was found. No pidfd is held between calls: each call pins the process
/// with <see cref="Pin"/> (a fresh pidfd, checked against the start time seen at connect) and
/// closes it when the call's attestation is done, so an idle connection costs one descriptor.
/// </summary>
internal sealed class WorkloadPeerFeature
{
    /// <summary>The uid under which connections without a found peer are counted (-1, no real uid).</summary>
    public const uint UnknownUid = uint.MaxValue;

    private readonly Func<PeerProcess>? _pin;

    private WorkloadPeerFeature(int processId, uint userId, Func<PeerProcess>? pin, string? failure)
    {
        ProcessId = processId;
        UserId = userId;
        _pin = pin;
        Failure = failure;
    }

    /// <summary>The peer's pid; 0 when none was found.</summary>
    public int ProcessId { get; }

    /// <summary>The peer's uid at connect time; <see cref="UnknownUid"/> when none was found.</summary>
    public uint UserId { get; }

    /// <summary>Why no peer was found (one short lowercase line); null when found.</summary>
    public string? Failure { get; }

    /// <summary>True when a peer was found.</summary>
    public bool IsFound => _pin is not null;

    /// <summary>
    /// A peer found when it connected (kernel record or fallback checks, unix socket or loopback
    /// TCP): its pid, ids, start time and connect-time facts are remembered and its pidfd closed
    /// now; each <see cref="Pin"/> opens the pid again, refuses another process that reuses it (a
    /// different start time), and carries the same connect-time facts, so a call is always
    /// attested with what the process was when it connected.
    /// </summary>
    public static WorkloadPeerFeature Found(PeerProcess process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var (pid, uid, gid, start) = (process.ProcessId, process.UserId, process.GroupId, process.StartTime);
        var (facts, pinned) = (process.ConnectFacts, process.PinnedExecutable);
        process.Dispose();
        return new WorkloadPeerFeature(pid, uid, () =>
        {
            // A fresh pidfd on the same process (same start time), nothing else read: the ids are
            // the ones it connected with (profiled: reading /proc/pid/status here again cost ~10%
            // of a FetchX509SVID call's agent CPU).
            var now = PeerCredentialsReader.Reopen(pid, uid, gid, start);
            return new PeerProcess(pid, uid, gid, start, now.PidFd) { ConnectFacts = facts, PinnedExecutable = pinned };
        }, null);
    }

    public static WorkloadPeerFeature NotFound(string reason) => new(0, UnknownUid, null, reason);

    /// <summary>Pins the peer for one call; the caller disposes it (closing the pidfd) when done.</summary>
    /// <exception cref="InvalidOperationException">No peer was found.</exception>
    /// <exception cref="WorkloadAttestationException">The peer exited, or its pid now belongs to another process.</exception>
    public PeerProcess Pin() => _pin is { } pin ? pin() : throw new InvalidOperationException(Failure);
}
