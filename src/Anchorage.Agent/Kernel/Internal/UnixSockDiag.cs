using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Anchorage.Agent.Internal;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Kernel.Internal;

/// <summary>
/// Asks the kernel (sock_diag(7), <c>NETLINK_SOCK_DIAG</c>, <c>UNIX_DIAG</c> with
/// <c>UDIAG_SHOW_PEER</c>) for the inode of the socket at the other end of a connected unix
/// socket: the client socket the eBPF <c>connect_unix</c> hook recorded its facts under.
/// </summary>
/// <remarks>
/// One request and one reply per accepted connection; no /proc scan. sock_diag answers only for
/// the network namespace the netlink socket was made in, and an accepted unix socket lives in the
/// CLIENT's (the kernel creates it in the connecting socket's namespace): for a client in another
/// network namespace (a container with the socket mounted in) the request is made again from a
/// netlink socket made in that namespace, which <c>SIOCGSKNS</c> names from the accepted socket
/// itself (no pid involved, so no pid race).
/// </remarks>
internal static partial class UnixSockDiag
{
    private const int AfUnix = 1;
    private const ushort NlmsgError = SockDiagSocket.Error;
    private const uint UdiagShowPeer = 4;
    private const ushort UnixDiagPeer = 2;
    private const int HeaderSize = SockDiagSocket.HeaderSize;
    private const nuint SiocGSkNs = 0x894C;
    private const int CloneNewNet = 0x40000000;

    private static readonly Lazy<ulong> OwnNamespaceInode = new(() => LinuxNative.StatxIdentity("/proc/self/ns/net").Inode);

    /// <summary>The inode of <paramref name="socket"/>'s peer socket, or null when it has none (the peer closed).</summary>
    /// <exception cref="IOException">The netlink request failed.</exception>
    public static ulong? PeerInode(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var handle = new SafeFileHandle(socket.Handle, ownsHandle: false);
        var own = LinuxNative.StatxIdentity(handle).Inode;
        if (PeerInode(own) is { } peer)
        {
            return peer;
        }

        // Not in the agent's namespace: ask from the socket's own, if it has another one.
        using var ns = SocketNamespace(handle);
        return ns is not null && LinuxNative.StatxIdentity(ns).Inode != OwnNamespaceInode.Value
            ? InNamespace(ns, own)
            : null;
    }

    /// <summary>The inode of the peer of the unix socket with inode <paramref name="inode"/>, or null when it has none.</summary>
    public static ulong? PeerInode(ulong inode)
    {
        using var diag = SockDiagSocket.Open();
        return Query(diag, inode);
    }

    // The network namespace the socket belongs to, as an nsfs descriptor (SIOCGSKNS, Linux 4.9;
    // needs CAP_NET_ADMIN over that namespace, which the root agent has); null when refused.
    private static SafeFileHandle? SocketNamespace(SafeFileHandle socket)
    {
        var fd = Ioctl((int)socket.DangerousGetHandle(), SiocGSkNs, 0);
        return fd < 0 ? null : new SafeFileHandle(fd, ownsHandle: true);
    }

    // The query made from a netlink socket created in namespace `ns`: a thread of its own joins
    // it (setns changes only the calling thread), makes and uses the socket, and ends, so no
    // other code ever runs in that namespace and the agent keeps no reference to it (a cached
    // socket would keep a dead container's namespace, and its interfaces, alive).
    private static ulong? InNamespace(SafeFileHandle ns, ulong inode)
    {
        ulong? result = null;
        Exception? error = null;
        var thread = new Thread(
            () =>
            {
                try
                {
                    if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new IOException($"cannot join the client's network namespace (setns errno {Marshal.GetLastPInvokeError()})");
                    }

                    using var diag = SockDiagSocket.Open();
                    result = Query(diag, inode);
                }
                catch (IOException e)
                {
                    error = e;
                }
            },
            maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "sock_diag netns",
        };
        thread.Start();
        thread.Join();
        return error is null ? result : throw new IOException(error.Message, error);
    }

    // Sends one UNIX_DIAG request and reads the reply.
    private static ulong? Query(SockDiagSocket diag, ulong inode)
    {
        Span<byte> request = stackalloc byte[HeaderSize + 24];
        request.Clear();
        SockDiagSocket.WriteHeader(request, request.Length, SockDiagSocket.Request);

        // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
        var body = request[HeaderSize..];
        body[0] = AfUnix;
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], uint.MaxValue);
        BinaryPrimitives.WriteUInt32LittleEndian(body[8..], (uint)inode);
        BinaryPrimitives.WriteUInt32LittleEndian(body[12..], UdiagShowPeer);
        BinaryPrimitives.WriteUInt32LittleEndian(body[16..], uint.MaxValue);
        BinaryPrimitives.WriteUInt32LittleEndian(body[20..], uint.MaxValue);

        ulong? peer = null;
        diag.Exchange(request, dump: false, reply =>
        {
            peer = ParseReply(reply);
            return false;
        });
        return peer;
    }

    /// <summary>Reads the UNIX_DIAG_PEER attribute of a reply; null when the socket is gone or has no peer.</summary>
    internal static ulong? ParseReply(ReadOnlySpan<byte> reply)
    {
        var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(reply);
        var type = BinaryPrimitives.ReadUInt16LittleEndian(reply[4..]);
        if (type == NlmsgError || length > reply.Length || length < HeaderSize + 16)
        {
            // ENOENT: the socket closed before we asked.
            return null;
        }

        // struct unix_diag_msg is 16 bytes, then netlink attributes aligned to 4.
        var offset = HeaderSize + 16;
        while (offset + 4 <= length)
        {
            var attributeLength = BinaryPrimitives.ReadUInt16LittleEndian(reply[offset..]);
            var attributeType = BinaryPrimitives.ReadUInt16LittleEndian(reply[(offset + 2)..]);
            if (attributeLength < 4 || offset + attributeLength > length)
            {
                return null;
            }

            if (attributeType == UnixDiagPeer && attributeLength >= 8)
            {
                return BinaryPrimitives.ReadUInt32LittleEndian(reply[(offset + 4)..]);
            }

            offset += (attributeLength + 3) & ~3;
        }

        return null;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, nuint request, nint argument);

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nsType);
}
