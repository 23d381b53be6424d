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
/// <remarks>One request and one reply per accepted connection; no /proc scan.</remarks>
internal static partial class UnixSockDiag
{
    private const int AfNetlink = 16;
    private const int AfUnix = 1;
    private const int SockDgram = 2;
    private const int SockCloexec = 0x80000;
    private const int NetlinkSockDiag = 4;
    private const ushort SockDiagByFamily = 20;
    private const ushort NlmsgError = 2;
    private const ushort NlmFRequest = 1;
    private const uint UdiagShowPeer = 4;
    private const ushort UnixDiagPeer = 2;
    private const int HeaderSize = 16;

    /// <summary>The inode of <paramref name="socket"/>'s peer socket, or null when it has none (the peer closed).</summary>
    /// <exception cref="IOException">The netlink request failed.</exception>
    public static ulong? PeerInode(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        var own = LinuxNative.StatxIdentity(new SafeFileHandle(socket.Handle, ownsHandle: false)).Inode;
        return PeerInode(own);
    }

    /// <summary>The inode of the peer of the unix socket with inode <paramref name="inode"/>, or null when it has none.</summary>
    public static unsafe ulong? PeerInode(ulong inode)
    {
        var fd = NativeSocket(AfNetlink, SockDgram | SockCloexec, NetlinkSockDiag);
        if (fd < 0)
        {
            throw new IOException($"cannot open a sock_diag netlink socket (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            Span<byte> request = stackalloc byte[HeaderSize + 24];
            request.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)request.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(request[4..], SockDiagByFamily);
            BinaryPrimitives.WriteUInt16LittleEndian(request[6..], NlmFRequest);
            BinaryPrimitives.WriteUInt32LittleEndian(request[8..], 1);

            // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
            var body = request[HeaderSize..];
            body[0] = AfUnix;
            BinaryPrimitives.WriteUInt32LittleEndian(body[4..], uint.MaxValue);
            BinaryPrimitives.WriteUInt32LittleEndian(body[8..], (uint)inode);
            BinaryPrimitives.WriteUInt32LittleEndian(body[12..], UdiagShowPeer);
            BinaryPrimitives.WriteUInt32LittleEndian(body[16..], uint.MaxValue);
            BinaryPrimitives.WriteUInt32LittleEndian(body[20..], uint.MaxValue);

            nint sent;
            fixed (byte* p = request)
            {
                sent = Send(fd, p, (nuint)request.Length, 0);
            }

            if (sent != request.Length)
            {
                throw new IOException($"sock_diag request failed (errno {Marshal.GetLastPInvokeError()})");
            }

            Span<byte> reply = stackalloc byte[512];
            nint received;
            fixed (byte* p = reply)
            {
                received = Recv(fd, p, (nuint)reply.Length, 0);
            }

            if (received < HeaderSize)
            {
                throw new IOException($"sock_diag reply failed (errno {Marshal.GetLastPInvokeError()})");
            }

            return ParseReply(reply[..(int)received]);
        }
        finally
        {
            _ = Close(fd);
        }
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

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int NativeSocket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
