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

    /// <summary>The effective user id the process had when it connected.</summary>
    public uint UserId { get; }

    /// <summary>The effective group id the process had when it connected.</summary>
    public uint GroupId { get; }

    /// <summary>The process start time in clock ticks since boot (/proc/pid/stat field 22).</summary>
    public ulong StartTime { get; }

    /// <summary>A pidfd for the process, or null on kernels without pidfds (before Linux 5.3).</summary>
    public SafeFileHandle? PidFd { get; }

    /// <summary>Closes the pidfd.</summary>
    public void Dispose() => PidFd?.Dispose();
}
