using System.Globalization;
using Anchorage.Agent.Internal;

namespace Anchorage.Agent.Attestation.Internal;

/// <summary>
/// What user space can do when no eBPF record exists for a connection (docs/agent.md,
/// "Connect-time attribution"): the ids must be the real and effective ones and match what the
/// kernel said at connect time; no setuid or setgid image; the executable is pinned when the
/// connection is accepted and must be the same at every call; one process alone may hold the
/// client's socket when it is accepted.
/// </summary>
internal static class FallbackChecks
{
    public const string SharedSocket = "the peer socket is held by more than one process";
    private const uint SetUidBit = 0x800;
    private const uint SetGidBit = 0x400;

    /// <summary>
    /// Checks <paramref name="peer"/> and returns it with its executable pinned; the pidfd
    /// moves to the returned instance.
    /// </summary>
    /// <param name="peer">The process found for the connection.</param>
    /// <param name="connectUid">The uid the kernel reported for the socket (<c>SO_PEERCRED</c> or the socket's creator).</param>
    /// <param name="connectGid">The gid from <c>SO_PEERCRED</c>, or null when unknown (TCP).</param>
    /// <param name="clientSocketInode">The client socket's inode, or null when it cannot be read (the
    /// peer socket is gone, or the agent may not look into the client's network namespace), which
    /// leaves the sole-holder check out.</param>
    /// <param name="holderChecked">True when the caller has just found <paramref name="peer"/> as the socket's only holder.</param>
    /// <exception cref="WorkloadAttestationException">A check failed; the message says which.</exception>
    public static PeerProcess Pin(PeerProcess peer, uint connectUid, uint? connectGid, ulong? clientSocketInode, bool holderChecked = false)
    {
        var pid = peer.ProcessId;
        var (uid, gid) = CheckIds(pid, connectUid, connectGid);
        var exe = CheckExecutable(pid);
        if (!holderChecked && clientSocketInode is { } inode)
        {
            CheckSoleHolder(pid, inode);
        }

        if (!PeerCredentialsReader.IsAlive(peer))
        {
            throw PeerCredentialsReader.Exited(pid);
        }

        return new PeerProcess(pid, uid, gid, peer.StartTime, peer.PidFd)
        {
            PinnedExecutable = exe,
        };
    }

    /// <summary>Re-checks a pinned peer at a call: same ids, same executable.</summary>
    /// <exception cref="WorkloadAttestationException">A check failed; the message says which.</exception>
    public static void Recheck(PeerProcess peer)
    {
        var pid = peer.ProcessId;
        CheckIds(pid, peer.UserId, peer.GroupId);
        var exe = CheckExecutable(pid);
        if (peer.PinnedExecutable is { } pinned && !SameFile(pinned, exe))
        {
            throw new WorkloadAttestationException(
                $"process {Pid(pid)} runs another executable than when it connected (exec after connect)");
        }


        // The sole-holder scan (every process's descriptors) is made once, at accept: a socket
        // shared later is either the connector's own choice (it is alive and unchanged, checked
        // above) or shows up as an exit or an exec here.
    }

    /// <summary>True when both name the same file (device and inode).</summary>
    public static bool SameFile(FileIdentity a, FileIdentity b) =>
        a.DevMajor == b.DevMajor && a.DevMinor == b.DevMinor && a.Inode == b.Inode;

    private static (uint Uid, uint Gid) CheckIds(int pid, uint connectUid, uint? connectGid)
    {
        string status;
        try
        {
            status = ProcFs.ReadStatusText(pid);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw PeerCredentialsReader.Exited(pid);
        }

        var ruid = ProcFs.ParseRealId(status, "Uid:");
        var euid = ProcFs.ParseEffectiveId(status, "Uid:");
        var rgid = ProcFs.ParseRealId(status, "Gid:");
        var egid = ProcFs.ParseEffectiveId(status, "Gid:");
        if (ruid != euid || rgid != egid)
        {
            throw new WorkloadAttestationException(
                $"process {Pid(pid)} runs with real and effective ids that differ (setuid or setgid)");
        }

        if (ruid != connectUid || (connectGid is { } g && rgid != g))
        {
            throw new WorkloadAttestationException(
                $"process {Pid(pid)} has other ids than the socket's ({Pid((int)ruid)} != {Pid((int)connectUid)})");
        }

        return (ruid, rgid);
    }

    private static FileIdentity CheckExecutable(int pid)
    {
        var exe = $"/proc/{Pid(pid)}/exe";
        try
        {
            if ((LinuxNative.StatxMode(exe) & (SetUidBit | SetGidBit)) != 0)
            {
                throw new WorkloadAttestationException($"process {Pid(pid)} runs a setuid or setgid executable");
            }

            return LinuxNative.StatxIdentity(exe);
        }
        catch (IOException)
        {
            throw PeerCredentialsReader.Exited(pid);
        }
    }

    private static void CheckSoleHolder(int pid, ulong inode)
    {
        var owners = SocketOwners.Find(inode);
        if (owners.Count > 1)
        {
            throw new WorkloadAttestationException(SharedSocket);
        }

        if (owners.Count == 0 || owners[0] != pid)
        {
            throw new WorkloadAttestationException($"process {Pid(pid)} no longer holds the peer socket");
        }
    }

    private static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);
}
