using System.Globalization;
using System.Net;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Attestation.Internal;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel.Internal;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// Finds the local process behind a loopback TCP socket for the gate, without a full /proc scan
/// per connection in the common case: the processes that recently opened gate connections are
/// asked first (a client reconnects from the same process), then every process.
/// </summary>
/// <remarks>
/// Outbound: the caller's socket inode is the kernel's entry (sock_diag, looked up by its
/// four-tuple) whose local end is the caller's endpoint and whose remote end is the gate's.
/// Inbound: the forward target's LISTEN sockets (a LISTEN-only sock_diag dump). Either way the owner found is pinned with a pidfd and must still hold the inode after
/// that, so a pid reused in between is never taken for the owner. A socket found in a recent
/// owner is attributed to it without looking for other holders (as SO_PEERCRED attributes a
/// unix socket to the process that connected); a socket found by the full scan must have exactly
/// one holder (outbound) or is attributed to its lowest pid, the parent of pre-forked servers (inbound).
/// </remarks>
internal sealed class SocketOwnerIndex
{
    /// <summary>How many recent owners are remembered.</summary>
    internal const int Capacity = 256;

    private readonly Lock _lock = new();
    private readonly LinkedList<int> _recent = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<IPEndPoint, (int Pid, ulong Inode)> _listeners = new();

    /// <summary>Full /proc scans done (a test and bench hook).</summary>
    internal long FullScans;

    /// <summary>The process that opened the loopback connection from <paramref name="client"/> to <paramref name="server"/>.</summary>
    public PeerProcess Locate(IPEndPoint server, IPEndPoint client)
    {
        if (!IPAddress.IsLoopback(InetSockDiag.Normalize(client).Address))
        {
            throw new WorkloadAttestationException("peer is not on the loopback interface");
        }

        var inode = FindConnectionInode(client, server) ?? throw new WorkloadAttestationException("peer socket not found in the kernel's TCP table");
        return Owner(inode, unique: true);
    }

    /// <summary>The process listening on <paramref name="address"/> (or on the wildcard address with its port).</summary>
    /// <remarks>
    /// The listener found last is remembered with its socket inode: while that process still holds
    /// that listening socket (checked through its pidfd and /proc/pid/fd on every call) it is still
    /// the listener, so the kernel's socket tables are asked only when the listener changed.
    /// </remarks>
    public PeerProcess LocateListener(IPEndPoint address)
    {
        if (_listeners.TryGetValue(address, out var known) && TryPin(known.Pid, known.Inode) is { } same)
        {
            return same;
        }

        var inode = FindListenInode(address) ?? throw new WorkloadAttestationException(
            $"no process listens on {address.ToString()}");
        var owner = Owner(inode, unique: false);
        _listeners[address] = (owner.ProcessId, inode);
        return owner;
    }

    /// <summary>
    /// Null while <paramref name="attested"/> (found by <see cref="LocateListener"/> for
    /// <paramref name="address"/>) is still the process behind every socket listening there: alive,
    /// running the executable it ran when it was found, holding each LISTEN socket a connection to
    /// <paramref name="address"/> can reach. Otherwise why not, one line.
    /// </summary>
    /// <remarks>
    /// The inbound gate calls this after dialing the forward address and before forwarding a byte:
    /// Linux lets two sockets listen on one address only in one <c>SO_REUSEPORT</c> group, so
    /// when every listener there is the attested process's, the dialed connection sits in its queue.
    /// A process that took the port after the attestation (the attested one closed its listener or
    /// exited) is found here instead of receiving the traffic.
    /// </remarks>
    public static string? ListenerChange(PeerProcess attested, IPEndPoint address)
    {
        var pid = attested.ProcessId;
        var shown = address.ToString();
        if (!PeerCredentialsReader.IsAlive(attested))
        {
            return $"process {Pid(pid)} that listened on {shown} exited";
        }

        if (attested.PinnedExecutable is { } pinned)
        {
            FileIdentity current;
            try
            {
                current = LinuxNative.StatxIdentity($"/proc/{Pid(pid)}/exe");
            }
            catch (IOException)
            {
                return $"process {Pid(pid)} that listened on {shown} exited";
            }

            if (!FallbackChecks.SameFile(pinned, current))
            {
                return $"process {Pid(pid)} runs another executable than when it was attested";
            }
        }

        var (exact, wildcard) = FindListenInodes(address);
        if (exact.Count + wildcard.Count == 0)
        {
            return $"no process listens on {shown}";
        }

        foreach (var inode in exact.Concat(wildcard))
        {
            if (!SocketOwners.Holds(pid, inode))
            {
                return $"a socket listening on {shown} is not held by process {Pid(pid)}, which was attested";
            }
        }

        // Holds read /proc/pid: the pid must still be the attested process's after that.
        return PeerCredentialsReader.IsAlive(attested) ? null : $"process {Pid(pid)} that listened on {shown} exited";
    }

    private PeerProcess Owner(ulong inode, bool unique)
    {
        int[] recent;
        lock (_lock)
        {
            recent = [.. _recent];
        }

        foreach (var pid in recent)
        {
            if (SocketOwners.Holds(pid, inode) && TryPin(pid, inode) is { } peer)
            {
                Remember(pid);
                return peer;
            }
        }

        Interlocked.Increment(ref FullScans);
        var owners = SocketOwners.Find(inode);
        if (owners.Count == 0)
        {
            throw new WorkloadAttestationException("no process holds the peer socket");
        }

        if (owners.Count > 1 && unique)
        {
            throw new WorkloadAttestationException("the peer socket is held by more than one process");
        }

        var owner = owners.Min();
        var pinned = TryPin(owner, inode) ?? throw new WorkloadAttestationException(
            $"process {owner.ToString(CultureInfo.InvariantCulture)} no longer holds the peer socket");
        Remember(owner);
        return pinned;
    }

    private static PeerProcess? TryPin(int pid, ulong inode)
    {
        PeerProcess peer;
        try
        {
            peer = PeerCredentialsReader.FromProcessId(pid);
        }
        catch (WorkloadAttestationException)
        {
            return null;
        }

        // The executable is pinned before the attestor reads it: an exec after this is seen by ListenerChange.
        FileIdentity exe;
        try
        {
            exe = LinuxNative.StatxIdentity($"/proc/{Pid(pid)}/exe");
        }
        catch (IOException)
        {
            peer.Dispose();
            return null;
        }

        // Found before the pidfd was opened: the process behind the pidfd must hold the socket now.
        if (!SocketOwners.Holds(pid, inode) || !PeerCredentialsReader.IsAlive(peer))
        {
            peer.Dispose();
            return null;
        }

        return new PeerProcess(peer.ProcessId, peer.UserId, peer.GroupId, peer.StartTime, peer.PidFd) { PinnedExecutable = exe };
    }

    private static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);

    private void Remember(int pid)
    {
        lock (_lock)
        {
            _recent.Remove(pid);
            _recent.AddFirst(pid);
            while (_recent.Count > Capacity)
            {
                _recent.RemoveLast();
            }
        }
    }

    private static ulong? FindConnectionInode(IPEndPoint local, IPEndPoint remote) =>
        Ask(() => InetSockDiag.FindConnection(local, remote))?.Inode;

    private static ulong? FindListenInode(IPEndPoint address)
    {
        var (exact, wildcard) = FindListenInodes(address);
        return exact.Count > 0 ? exact[0] : wildcard.Count > 0 ? wildcard[0] : null;
    }

    // Every LISTEN socket a connection to address can reach: bound to it, or to the wildcard address with its port.
    private static (List<ulong> Exact, List<ulong> Wildcard) FindListenInodes(IPEndPoint address)
    {
        var want = InetSockDiag.Normalize(address);
        List<ulong> exact = [];
        List<ulong> wildcard = [];
        foreach (var listener in Ask(() => InetSockDiag.Listeners(want.Port)))
        {
            if (listener.Local.Address.Equals(want.Address))
            {
                exact.Add(listener.Inode);
            }
            else if (listener.Local.Address.Equals(IPAddress.Any) || listener.Local.Address.Equals(IPAddress.IPv6Any))
            {
                wildcard.Add(listener.Inode);
            }
        }

        return (exact, wildcard);
    }

    private static T Ask<T>(Func<T> query)
    {
        try
        {
            return query();
        }
        catch (IOException e)
        {
            throw new WorkloadAttestationException("cannot read the kernel's TCP sockets (sock_diag): " + e.Message, e);
        }
    }
}
