using System.Globalization;
using System.Net;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Internal;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Finds the local process at the other end of a loopback TCP connection from the kernel's own
/// tables: the client's socket inode from /proc/net/tcp{,6} (the row whose local end is the
/// client's endpoint and whose remote end is ours), then the one process holding that inode in
/// /proc/&lt;pid&gt;/fd, pinned with a pidfd.
/// </summary>
internal static class TcpPeerLocator
{
    public const string NotLoopback = "peer is not on the loopback interface";
    public const string NoSocket = "peer socket not found in /proc/net/tcp";
    public const string NoOwner = "no process holds the peer socket";
    public const string SharedSocket = "the peer socket is held by more than one process";

    /// <summary>Locates the client of a connection accepted on <paramref name="server"/> from <paramref name="client"/>.</summary>
    public static WorkloadPeerFeature Locate(IPEndPoint server, IPEndPoint client)
    {
        if (!IPAddress.IsLoopback(ProcNetTcp.Normalize(client).Address))
        {
            return WorkloadPeerFeature.NotFound(NotLoopback);
        }

        var inode = FindInode(client, server);
        if (inode is not { } socketInode)
        {
            return WorkloadPeerFeature.NotFound(NoSocket);
        }

        var owners = SocketOwners.Find(socketInode);
        if (owners.Count == 0)
        {
            return WorkloadPeerFeature.NotFound(NoOwner);
        }

        // A socket inherited across fork (or passed over a unix socket) has no single owner; the
        // agent will not guess which of them is calling.
        if (owners.Count > 1)
        {
            return WorkloadPeerFeature.NotFound(SharedSocket);
        }

        var pid = owners[0];
        PeerProcess peer;
        try
        {
            peer = PeerCredentialsReader.FromProcessId(pid);
        }
        catch (WorkloadAttestationException e)
        {
            return WorkloadPeerFeature.NotFound(e.Message);
        }

        // The pid was found before the pidfd was opened: if the process exited meanwhile and its
        // pid went to another process, that process does not hold this socket. Checked while the
        // pidfd is open, then the pidfd confirms the process behind the pid did not change.
        if (!SocketOwners.Holds(pid, socketInode) || !PeerCredentialsReader.IsAlive(peer))
        {
            peer.Dispose();
            return WorkloadPeerFeature.NotFound(
                $"process {pid.ToString(CultureInfo.InvariantCulture)} no longer holds the peer socket");
        }

        return WorkloadPeerFeature.Found(peer);
    }

    private static ulong? FindInode(IPEndPoint local, IPEndPoint remote)
    {
        foreach (var path in ProcNetTcp.TablePaths)
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No IPv6 in this kernel or namespace.
                continue;
            }

            if (ProcNetTcp.FindInode(text, local, remote) is { } inode)
            {
                return inode;
            }
        }

        return null;
    }
}
