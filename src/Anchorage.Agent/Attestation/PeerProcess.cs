using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Attestation;

/// <summary>
/// The process on the other end of a Unix socket, as the kernel reported it: pid, uid and gid
/// from <c>SO_PEERCRED</c>, the process start time, and a pidfd when the kernel offers one.
/// </summary>
/// <remarks>
/// A pid alone is not an identity: once a process exits its pid can be given to another one.
/// The pidfd refers to one process for its whole life, and the start time (proc(5),
/// /proc/pid/stat field 22) tells two holders of the same pid apart, so attestors use both to
/// make sure every fact they read from /proc belongs to this process. Dispose closes the pidfd.
/// Create instances with <see cref="PeerCredentialsReader"/>.
/// </remarks>
public sealed class PeerProcess : IDisposable
{
    internal PeerProcess(int processId, uint userId, uint groupId, ulong startTime, SafeFileHandle? pidFd)
    {
        ProcessId = processId;
        UserId = userId;
        GroupId = groupId;
        StartTime = startTime;
        PidFd = pidFd;
    }

    /// <summary>The process id, in the agent's pid namespace.</summary>
    public int ProcessId { get; }

    /// <summary>
    /// The user id the process had when it connected: the real one from the kernel's record
    /// (<see cref="ConnectFacts"/>), or in fallback mode the one <c>SO_PEERCRED</c> or the socket
    /// table reported, checked equal to the real and effective ids.
    /// </summary>
    public uint UserId { get; }

    /// <summary>The group id the process had when it connected (same sources as <see cref="UserId"/>).</summary>
    public uint GroupId { get; }

    /// <summary>What the kernel recorded when the process connected; null when no program recorded it (fallback).</summary>
    public ConnectFacts? ConnectFacts { get; init; }

    /// <summary>Which mode found this peer.</summary>
    public AttributionMode Mode => ConnectFacts is null ? AttributionMode.Fallback : AttributionMode.Kernel;

    /// <summary>Fallback: the executable (device, inode) when the connection was accepted, re-checked at every call.</summary>
    internal FileIdentity? PinnedExecutable { get; init; }

    /// <summary>Fallback: the inode of the client's socket, to re-check that one process alone holds it.</summary>
    internal ulong ClientSocketInode { get; init; }

    /// <summary>The process start time in clock ticks since boot (/proc/pid/stat field 22).</summary>
    public ulong StartTime { get; }

    /// <summary>A pidfd for the process, or null on kernels without pidfds (before Linux 5.3).</summary>
    public SafeFileHandle? PidFd { get; }

    /// <summary>Closes the pidfd.</summary>
    public void Dispose() => PidFd?.Dispose();
}
