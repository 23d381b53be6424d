using System.Globalization;
using System.Net;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Attestation.Internal;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel.Internal;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Finds the local process at the other end of a loopback TCP connection from the kernel's own
/// tables: the client's socket inode from sock_diag (the connection whose local end is the
/// client's endpoint and whose remote end is ours, looked up by its four-tuple), then the one process holding that inode in
/// /proc/&lt;pid&gt;/fd, pinned with a pidfd. This is the fallback when no eBPF record exists: the
/// holder must also pass <see cref="FallbackChecks"/> against the socket's creator uid (the
/// socket's uid as the kernel lists it), so a socket passed to a setuid program gets no identity.
/// </summary>
internal static class TcpPeerLocator
{
    public const string NotLoopback = "peer is not on the loopback interface";
    public const string NoSocket = "peer socket not found in the kernel's TCP table";
    public const string NoOwner = "no process holds the peer socket";
    public const string SharedSocket = FallbackChecks.SharedSocket;

    /// <summary>Locates the client of a connection accepted on <paramref name="server"/> from <paramref name="client"/>.</summary>
    /// <exception cref="WorkloadAttestationException">No process can be given the connection; the message says why.</exception>
    public static PeerProcess Locate(IPEndPoint server, IPEndPoint client)
    {
        if (!IPAddress.IsLoopback(InetSockDiag.Normalize(client).Address))
        {
            throw new WorkloadAttestationException(NotLoopback);
        }

        if (FindRow(client, server) is not { } row)
        {
            throw new WorkloadAttestationException(NoSocket);
        }

        var socketInode = row.Inode;

        var owners = SocketOwners.Find(socketInode);
        if (owners.Count == 0)
        {
            throw new WorkloadAttestationException(NoOwner);
        }

        // A socket inherited across fork (or passed over a unix socket) has no single owner; the
        // agent will not guess which of them is calling.
        if (owners.Count > 1)
        {
            throw new WorkloadAttestationException(SharedSocket);
        }

        var pid = owners[0];
        var peer = PeerCredentialsReader.FromProcessId(pid);

        // The pid was found before the pidfd was opened: if the process exited meanwhile and its
        // pid went to another process, that process does not hold this socket. Checked while the
        // pidfd is open, then the pidfd confirms the process behind the pid did not change.
        if (!SocketOwners.Holds(pid, socketInode) || !PeerCredentialsReader.IsAlive(peer))
        {
            peer.Dispose();
            throw new WorkloadAttestationException(
                $"process {pid.ToString(CultureInfo.InvariantCulture)} no longer holds the peer socket");
        }

        try
        {
            return FallbackChecks.Pin(peer, row.Uid, null, socketInode, holderChecked: true);
        }
        catch (WorkloadAttestationException)
        {
            peer.Dispose();
            throw;
        }
    }

    /// <summary>The uid that created the client socket of a connection accepted on <paramref name="server"/> from <paramref name="client"/> (as the kernel lists it); null when no row matches.</summary>
    public static uint? SocketUid(IPEndPoint server, IPEndPoint client) => FindRow(client, server)?.Uid;

    private static InetSockDiag.TcpSocket? FindRow(IPEndPoint local, IPEndPoint remote)
    {
        try
        {
            return InetSockDiag.FindConnection(local, remote);
        }
        catch (IOException e)
        {
            throw new WorkloadAttestationException("cannot read the kernel's TCP sockets (sock_diag): " + e.Message, e);
        }
    }
}
