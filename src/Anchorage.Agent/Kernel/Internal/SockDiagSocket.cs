using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Anchorage.Agent.Kernel.Internal;

/// <summary>
/// One <c>NETLINK_SOCK_DIAG</c> socket (sock_diag(7)) for one request: sends it and hands every
/// reply message to a callback until the kernel says the answer is complete. Shared by the unix
/// (<see cref="UnixSockDiag"/>) and TCP (<see cref="InetSockDiag"/>) queries.
/// </summary>
internal sealed partial class SockDiagSocket : IDisposable
{
    /// <summary>The netlink message header's size (<c>struct nlmsghdr</c>).</summary>
    public const int HeaderSize = 16;

    /// <summary><c>SOCK_DIAG_BY_FAMILY</c>.</summary>
    public const ushort ByFamily = 20;

    /// <summary><c>NLM_F_REQUEST</c>.</summary>
    public const ushort Request = 1;

    /// <summary><c>NLM_F_DUMP</c> (<c>NLM_F_ROOT | NLM_F_MATCH</c>).</summary>
    public const ushort Dump = 0x300;

    /// <summary><c>NLMSG_ERROR</c>.</summary>
    public const ushort Error = 2;

    /// <summary><c>NLMSG_DONE</c>.</summary>
    public const ushort Done = 3;

    private const int AfNetlink = 16;
    private const int SockDgram = 2;
    private const int SockCloexec = 0x80000;
    private const int NetlinkSockDiag = 4;

    /// <summary>The most reply messages one request may bring before the answer is taken as malformed (a bound on the loop).</summary>
    private const int MaxReplies = 65_536;

    private int _fd;

    private SockDiagSocket(int fd) => _fd = fd;

    /// <summary>Opens a sock_diag socket in the calling thread's network namespace.</summary>
    /// <exception cref="IOException">The kernel refused it.</exception>
    public static SockDiagSocket Open()
    {
        var fd = NativeSocket(AfNetlink, SockDgram | SockCloexec, NetlinkSockDiag);
        return fd < 0
            ? throw new IOException($"cannot open a sock_diag netlink socket (errno {Marshal.GetLastPInvokeError()})")
            : new SockDiagSocket(fd);
    }

    /// <summary>Writes the netlink header for a request of <paramref name="length"/> bytes into <paramref name="request"/>.</summary>
    public static void WriteHeader(Span<byte> request, int length, ushort flags)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(request, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(request[4..], ByFamily);
        BinaryPrimitives.WriteUInt16LittleEndian(request[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(request[8..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(request[12..], 0);
    }

    /// <summary>
    /// Sends <paramref name="request"/> and passes each reply message (header included) to
    /// <paramref name="onMessage"/> until it returns false, an error or done message arrives, or
    /// (for a request without <see cref="Dump"/>) after the first message.
    /// </summary>
    /// <exception cref="IOException">Sending or receiving failed, or the reply was malformed.</exception>
    public unsafe void Exchange(ReadOnlySpan<byte> request, bool dump, Func<ReadOnlySpan<byte>, bool> onMessage)
    {
        nint sent;
        fixed (byte* p = request)
        {
            sent = Send(_fd, p, (nuint)request.Length, 0);
        }

        if (sent != request.Length)
        {
            throw new IOException($"sock_diag request failed (errno {Marshal.GetLastPInvokeError()})");
        }

        var buffer = new byte[dump ? 32 * 1024 : 1024];
        var replies = 0;
        while (true)
        {
            nint received;
            fixed (byte* p = buffer)
            {
                received = Recv(_fd, p, (nuint)buffer.Length, 0);
            }

            if (received < HeaderSize)
            {
                throw new IOException($"sock_diag reply failed (errno {Marshal.GetLastPInvokeError()})");
            }

            var offset = 0;
            while (offset + HeaderSize <= received)
            {
                var message = buffer.AsSpan(offset, (int)received - offset);
                var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(message);
                var type = BinaryPrimitives.ReadUInt16LittleEndian(message[4..]);
                if (length < HeaderSize || length > message.Length || ++replies > MaxReplies)
                {
                    throw new IOException("sock_diag reply is malformed");
                }

                if (type == Done || !onMessage(message[..length]) || !dump || type == Error)
                {
                    return;
                }

                offset += (length + 3) & ~3;
            }
        }
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = Close(fd);
        }
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
