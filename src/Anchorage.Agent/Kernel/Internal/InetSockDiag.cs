using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Agent.Kernel.Internal;

/// <summary>
/// Asks the kernel's TCP socket tables (sock_diag(7), <c>INET_DIAG</c>) about one connection or
/// about the sockets listening on one port, in the agent's network namespace.
/// </summary>
/// <remarks>
/// Both queries cost what they find, not what the host has: a connection is looked up by its
/// four-tuple (the kernel's own hash lookup, one reply), and a listener dump asks for
/// <c>TCP_LISTEN</c> only, so the kernel walks its listening hash and never the established one
/// (which grows with every connection in TIME_WAIT; reading /proc/net/tcp walked all of it).
/// </remarks>
internal static class InetSockDiag
{
    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const byte IpProtoTcp = 6;
    private const int TcpListen = 10;
    private const int RequestSize = SockDiagSocket.HeaderSize + 56;

    // struct inet_diag_msg: family, state, timer, retrans, the 48-byte inet_diag_sockid, then
    // expires, rqueue, wqueue, uid, inode (u32 each).
    private const int MessageSize = 72;

    /// <summary>A TCP socket as the kernel lists it.</summary>
    /// <param name="Local">Its local address and port (IPv4-mapped addresses as IPv4).</param>
    /// <param name="Remote">Its remote address and port (any for a listener).</param>
    /// <param name="State">The TCP state (<c>TCP_ESTABLISHED</c> = 1 ... <c>TCP_LISTEN</c> = 10).</param>
    /// <param name="Uid">The uid that created the socket.</param>
    /// <param name="Inode">The socket's inode (0 for a TIME_WAIT entry, which belongs to nobody).</param>
    internal readonly record struct TcpSocket(IPEndPoint Local, IPEndPoint Remote, int State, uint Uid, ulong Inode);

    /// <summary>
    /// The socket whose local end is <paramref name="local"/> and remote end
    /// <paramref name="remote"/>, or null when there is none (or only a TIME_WAIT entry).
    /// IPv4-mapped IPv6 addresses are looked up as IPv4.
    /// </summary>
    /// <exception cref="IOException">The netlink request failed.</exception>
    public static TcpSocket? FindConnection(IPEndPoint local, IPEndPoint remote)
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(remote);
        var wantLocal = Normalize(local);
        var wantRemote = Normalize(remote);
        if (wantLocal.AddressFamily != wantRemote.AddressFamily)
        {
            return null;
        }

        Span<byte> request = stackalloc byte[RequestSize];
        WriteRequest(request, wantLocal.AddressFamily, SockDiagSocket.Request, states: uint.MaxValue, wantLocal, wantRemote);
        TcpSocket? found = null;
        using var diag = SockDiagSocket.Open();
        diag.Exchange(request, dump: false, reply =>
        {
            // The kernel's lookup falls back to a listener on the local port when no connection
            // matches: only the exact connection, owned by a live socket, counts.
            if (TryParse(reply, out var socket) && socket.Inode != 0 && socket.State != TcpListen
                && socket.Local.Equals(wantLocal) && socket.Remote.Equals(wantRemote))
            {
                found = socket;
            }

            return false;
        });
        return found;
    }

    /// <summary>
    /// Every socket listening on port <paramref name="port"/>, IPv4 and IPv6 (a dual-stack
    /// listener appears with its IPv6 address).
    /// </summary>
    /// <exception cref="IOException">The netlink request failed.</exception>
    public static List<TcpSocket> Listeners(int port)
    {
        var any = new IPEndPoint(IPAddress.Any, port);
        var listeners = new List<TcpSocket>();
        Span<byte> request = stackalloc byte[RequestSize];
        foreach (var family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            var local = family == AddressFamily.InterNetwork ? any : new IPEndPoint(IPAddress.IPv6Any, port);
            var remote = family == AddressFamily.InterNetwork ? new IPEndPoint(IPAddress.Any, 0) : new IPEndPoint(IPAddress.IPv6Any, 0);
            WriteRequest(request, family, SockDiagSocket.Request | SockDiagSocket.Dump, states: 1u << TcpListen, local, remote);
            using var diag = SockDiagSocket.Open();
            diag.Exchange(request, dump: true, reply =>
            {
                if (TryParse(reply, out var socket) && socket.State == TcpListen && socket.Local.Port == port && socket.Inode != 0)
                {
                    listeners.Add(socket);
                }

                return true;
            });
        }

        return listeners;
    }

    /// <summary>IPv4-mapped IPv6 endpoints as IPv4, so a dual-stack socket's view matches the kernel's tables.</summary>
    internal static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;

    /// <summary>Parses one reply message (header included); false for an error message or anything too short.</summary>
    internal static bool TryParse(ReadOnlySpan<byte> reply, out TcpSocket socket)
    {
        socket = default;
        var type = BinaryPrimitives.ReadUInt16LittleEndian(reply[4..]);
        if (type != SockDiagSocket.ByFamily || reply.Length < SockDiagSocket.HeaderSize + MessageSize)
        {
            return false;
        }

        var body = reply[SockDiagSocket.HeaderSize..];
        var family = body[0];
        if (family is not (AfInet or AfInet6))
        {
            return false;
        }

        var id = body[4..];
        var localPort = BinaryPrimitives.ReadUInt16BigEndian(id);
        var remotePort = BinaryPrimitives.ReadUInt16BigEndian(id[2..]);
        var length = family == AfInet ? 4 : 16;
        var local = Normalize(new IPEndPoint(new IPAddress(id.Slice(4, length)), localPort));
        var remote = Normalize(new IPEndPoint(new IPAddress(id.Slice(20, length)), remotePort));
        var uid = BinaryPrimitives.ReadUInt32LittleEndian(body[64..]);
        var inode = BinaryPrimitives.ReadUInt32LittleEndian(body[68..]);
        socket = new TcpSocket(local, remote, body[1], uid, inode);
        return true;
    }

    // struct inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid:
    // sport, dport (big-endian), src[4], dst[4] (network order), if, cookie[2].
    private static void WriteRequest(Span<byte> request, AddressFamily family, ushort flags, uint states, IPEndPoint local, IPEndPoint remote)
    {
        request.Clear();
        SockDiagSocket.WriteHeader(request, request.Length, flags);
        var body = request[SockDiagSocket.HeaderSize..];
        body[0] = family == AddressFamily.InterNetwork ? (byte)AfInet : (byte)AfInet6;
        body[1] = IpProtoTcp;
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], states);
        var id = body[8..];
        BinaryPrimitives.WriteUInt16BigEndian(id, (ushort)local.Port);
        BinaryPrimitives.WriteUInt16BigEndian(id[2..], (ushort)remote.Port);
        _ = local.Address.TryWriteBytes(id.Slice(4, 16), out _);
        _ = remote.Address.TryWriteBytes(id.Slice(20, 16), out _);

        // INET_DIAG_NOCOOKIE: no cookie to check.
        BinaryPrimitives.WriteUInt32LittleEndian(id[40..], uint.MaxValue);
        BinaryPrimitives.WriteUInt32LittleEndian(id[44..], uint.MaxValue);
    }
}
