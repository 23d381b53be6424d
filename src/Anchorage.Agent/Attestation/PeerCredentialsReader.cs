using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using Anchorage.Agent.Internal;
using Anchorage.Hosting.Listeners;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Attestation;

/// <summary>
/// Reads who is on the other end of a connected Unix domain socket, and pins that process with a
/// pidfd so it cannot be confused with a later process that reuses its pid.
/// </summary>
public static class PeerCredentialsReader
{
    /// <summary>
    /// Reads <c>SO_PEERCRED</c> (pid, uid, gid at connect time) and <c>SO_PEERPIDFD</c> (Linux 6.5+)
    /// from <paramref name="socket"/>.
    /// </summary>
    /// <remarks>
    /// <c>SO_PEERPIDFD</c> hands out a pidfd for the very process that connected, so no pid
    /// lookup is involved. On older kernels the pidfd comes from <c>pidfd_open(pid)</c>; the start
    /// time is read before and after that call and must match, which narrows (but cannot close)
    /// the window in which the peer could have exited and its pid been reused. Without any pidfd
    /// support (before Linux 5.3) only the start time guards against pid reuse.
    /// </remarks>
    /// <exception cref="ArgumentException">The socket is not a Unix domain socket.</exception>
    /// <exception cref="WorkloadAttestationException">
    /// The peer is outside the agent's pid namespace or has already exited.
    /// </exception>
    public static PeerProcess Read(Socket socket)
    {
        var (pid, uid, gid) = ReadCredentials(socket);
        var pidFd = TryReadPeerPidFd(socket);
        if (pidFd is not null)
        {
            return Pin(pid, uid, gid, pidFd);
        }

        return Open(pid, uid, gid);
    }

    /// <summary>
    /// Reads <c>SO_PEERCRED</c> only (pid, uid, gid at connect time): no pidfd is opened, so it
    /// costs no file descriptor (connection caps count by this uid).
    /// </summary>
    /// <exception cref="ArgumentException">The socket is not a Unix domain socket.</exception>
    /// <exception cref="WorkloadAttestationException">The peer is outside the agent's pid namespace.</exception>
    public static (int ProcessId, uint UserId, uint GroupId) ReadCredentials(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (socket.AddressFamily != AddressFamily.Unix)
        {
            throw new ArgumentException("socket must be a unix domain socket", nameof(socket));
        }

        // The one SO_PEERCRED reader (Anchorage.Hosting's, which the admin sockets use too).
        PeerCredentials credentials;
        try
        {
            credentials = PeerCredentials.Read(socket);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.InvalidArgument)
        {
            // What the reader throws for a short answer, as this method did before it.
            throw new WorkloadAttestationException("peer credentials are not available");
        }

        var (pid, uid, gid) = (credentials.ProcessId, credentials.UserId, credentials.GroupId);
        if (pid <= 0)
        {
            throw new WorkloadAttestationException("peer process is not visible in the agent's pid namespace");
        }

        return (pid, uid, gid);
    }

    /// <summary>
    /// Opens a running process by pid (<c>pidfd_open</c>) with the effective uid and gid from
    /// /proc/pid/status; for workloads found by other means than a socket.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="processId"/> is not positive.</exception>
    /// <exception cref="WorkloadAttestationException">The process does not exist.</exception>
    public static PeerProcess FromProcessId(int processId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);

        // Open pins whichever process has the pid now (pidfd, then its start time, then a poll).
        if (!Directory.Exists($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}"))
        {
            throw NoSuchProcess(processId);
        }

        var peer = Open(processId, 0, 0);
        string status;
        try
        {
            status = ProcFs.ReadStatusText(processId);
        }
        catch (Exception e) when (e is IOException)
        {
            peer.Dispose();
            throw Exited(processId);
        }

        var result = new PeerProcess(
            processId,
            ProcFs.ParseEffectiveId(status, "Uid:"),
            ProcFs.ParseEffectiveId(status, "Gid:"),
            peer.StartTime,
            peer.PidFd);
        if (!IsAlive(result))
        {
            result.Dispose();
            throw Exited(processId);
        }

        return result;
    }

    /// <summary>
    /// Opens again a process found before (<paramref name="startTime"/> is the start time seen
    /// then) with a fresh pidfd, under the ids it had then: another process that reuses the pid
    /// has another start time and is refused. Reads nothing but the start time (the Workload API
    /// pins its caller this way for every call).
    /// </summary>
    /// <exception cref="WorkloadAttestationException">The process exited (its pid may be someone else's now).</exception>
    public static PeerProcess Reopen(int processId, uint userId, uint groupId, ulong startTime)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processId);
        var peer = Open(processId, userId, groupId);
        if (peer.StartTime != startTime)
        {
            peer.Dispose();
            throw Exited(processId);
        }

        return peer;
    }

    /// <summary>
    /// Opens the process the kernel recorded at <c>connect()</c> (<paramref name="facts"/>) with a
    /// pidfd; it must still be that process (same start time), else it exited and its pid may
    /// belong to another one now.
    /// </summary>
    /// <exception cref="WorkloadAttestationException">The process that connected has exited.</exception>
    public static PeerProcess FromFacts(Kernel.ConnectFacts facts)
    {
        if (facts.ProcessId <= 0)
        {
            throw new WorkloadAttestationException("the connect-time record has no process");
        }

        // The record says this pid connected: if it cannot be opened now, or its start time is
        // another, the connector exited since (and the pid may be someone else's).
        PeerProcess peer;
        try
        {
            peer = Open(facts.ProcessId, facts.RealUserId, facts.RealGroupId);
        }
        catch (WorkloadAttestationException e) when (e.Message == Exited(facts.ProcessId).Message)
        {
            throw ExitedAfterConnect(facts.ProcessId);
        }

        if (peer.StartTime != facts.StartTimeTicks)
        {
            peer.Dispose();
            throw ExitedAfterConnect(facts.ProcessId);
        }

        return new PeerProcess(peer.ProcessId, facts.RealUserId, facts.RealGroupId, peer.StartTime, peer.PidFd) { ConnectFacts = facts };
    }

    /// <summary>
    /// The unix peer <paramref name="peer"/> (from <see cref="Read"/>) with the facts the kernel
    /// recorded for its socket; the record must name the same process (pid and start time).
    /// </summary>
    /// <exception cref="WorkloadAttestationException">The record names another process.</exception>
    public static PeerProcess WithFacts(PeerProcess peer, Kernel.ConnectFacts facts)
    {
        ArgumentNullException.ThrowIfNull(peer);
        if (facts.ProcessId != peer.ProcessId || facts.StartTimeTicks != peer.StartTime)
        {
            throw new WorkloadAttestationException("the connect-time record names another process than the socket's peer");
        }

        return new PeerProcess(peer.ProcessId, facts.RealUserId, facts.RealGroupId, peer.StartTime, peer.PidFd) { ConnectFacts = facts };
    }

    /// <summary>
    /// True when the process has not exited: its pidfd does not poll readable, or, without a pidfd
    /// (kernels before 5.3), its pid still has the same start time.
    /// </summary>
    /// <remarks>
    /// Every <see cref="PeerProcess"/> with a pidfd was made here, and its pidfd was checked to
    /// name the process of <see cref="PeerProcess.StartTime"/> (the kernel's own for
    /// <c>SO_PEERPIDFD</c>; the start time read after <c>pidfd_open</c> while the pidfd was alive
    /// otherwise). A pidfd names one process for good, and a live process keeps its pid, so the
    /// poll alone says the pid is still that process; reading the start time again would add
    /// three system calls to every check and nothing to the answer.
    /// </remarks>
    internal static bool IsAlive(PeerProcess peer) =>
        peer.PidFd is not null
            ? !LinuxNative.PidfdHasExited(peer.PidFd)
            : ProcFs.TryReadStartTime(peer.ProcessId) == peer.StartTime;

    /// <summary>The process a connect-time record names has exited (PID churn): its pid may be another's now.</summary>
    internal static WorkloadAttestationException ExitedAfterConnect(int pid) =>
        new($"process {pid.ToString(CultureInfo.InvariantCulture)} exited after it connected (its pid may belong to another process now)");

    internal static WorkloadAttestationException Exited(int pid) =>
        new($"process {pid.ToString(CultureInfo.InvariantCulture)} exited during attestation");

    private static WorkloadAttestationException NoSuchProcess(int pid) =>
        new($"process {pid.ToString(CultureInfo.InvariantCulture)} does not exist");

    private static SafeFileHandle? TryReadPeerPidFd(Socket socket)
    {
        Span<byte> fd = stackalloc byte[4];
        try
        {
            if (socket.GetRawSocketOption(LinuxNative.SolSocket, LinuxNative.SoPeerPidFd, fd) < 4)
            {
                return null;
            }
        }
        catch (SocketException)
        {
            // ENOPROTOOPT before Linux 6.5; ESRCH when the peer has already been reaped.
            return null;
        }

        return new SafeFileHandle(BinaryPrimitives.ReadInt32LittleEndian(fd), ownsHandle: true);
    }

    /// <summary>Reads the start time for a pidfd the kernel gave us and checks it still belongs to it.</summary>
    private static PeerProcess Pin(int pid, uint uid, uint gid, SafeFileHandle pidFd)
    {
        var startTime = ProcFs.TryReadStartTime(pid);
        var peer = new PeerProcess(pid, uid, gid, startTime ?? 0, pidFd);

        // The start time was read through the pid; it is this process's only if the pidfd's
        // process was still alive afterwards (a live process keeps its pid).
        if (startTime is null || LinuxNative.PidfdHasExited(pidFd))
        {
            peer.Dispose();
            throw Exited(pid);
        }

        return peer;
    }

    private static PeerProcess Open(int pid, uint uid, uint gid)
    {
        var fd = LinuxNative.PidfdOpen(pid, out var errno);
        if (fd < 0)
        {
            // EINVAL: the id now names a thread of another process (ids are reused, threads take
            // them too), so the process that connected is gone. ENOENT: seen once in CI for a
            // child reaped between reading its start time and pidfd_open; gone as well.
            if (errno is LinuxNative.Esrch or LinuxNative.Einval or LinuxNative.Enoent)
            {
                throw Exited(pid);
            }

            if (errno != LinuxNative.Enosys)
            {
                throw new WorkloadAttestationException(
                    $"cannot open pidfd for process {pid.ToString(CultureInfo.InvariantCulture)} (errno {errno.ToString(CultureInfo.InvariantCulture)})");
            }

            // No pidfds on this kernel: the start time is the only guard.
            return new PeerProcess(pid, uid, gid, ProcFs.TryReadStartTime(pid) ?? throw Exited(pid), null);
        }

        // The pidfd names whichever process had the pid at pidfd_open; the start time read after
        // it is that process's if the pidfd shows it still alive afterwards (Pin). Callers that
        // know the start time they expect compare it next.
        return Pin(pid, uid, gid, new SafeFileHandle(fd, ownsHandle: true));
    }
}
