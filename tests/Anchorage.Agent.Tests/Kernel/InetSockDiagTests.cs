using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel.Internal;
using Microsoft.Win32.SafeHandles;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// The kernel's TCP tables through sock_diag, against real sockets: the connection lookup by
/// four-tuple (what the TCP fallback and the gate use instead of reading /proc/net/tcp) and the
/// LISTEN-only dump of one port.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class InetSockDiagTests
{
    private const int Established = 1;
    private const int Listen = 10;

    [Fact]
    public async Task FindConnection_LoopbackV4_IsTheClientSocketWithItsInodeAndUid()
    {
        using var listener = Listening(IPAddress.Loopback);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();

        var found = InetSockDiag.FindConnection((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!);

        Assert.NotNull(found);
        Assert.Equal(Inode(client), found.Value.Inode);
        Assert.Equal(Established, found.Value.State);
        Assert.Equal(0u, found.Value.Uid);
        Assert.Equal(client.LocalEndPoint, found.Value.Local);

        // The server's end is another socket, found from its own side.
        var server = InetSockDiag.FindConnection((IPEndPoint)accepted.LocalEndPoint!, (IPEndPoint)accepted.RemoteEndPoint!);
        Assert.Equal(Inode(accepted), server?.Inode);
    }

    [Fact]
    public async Task FindConnection_LoopbackV6_Found()
    {
        using var listener = Listening(IPAddress.IPv6Loopback);
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();

        var found = InetSockDiag.FindConnection((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!);

        Assert.Equal(Inode(client), found?.Inode);
    }

    [Fact]
    public async Task FindConnection_DualStackServerSeesAMappedV4Client_FoundAsV4()
    {
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        listener.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        using var accepted = await listener.AcceptAsync();
        var remote = (IPEndPoint)accepted.RemoteEndPoint!;
        Assert.True(remote.Address.IsIPv4MappedToIPv6);

        // As the agent asks: the client's end from the accepted socket's view (mapped addresses).
        var found = InetSockDiag.FindConnection(remote, (IPEndPoint)accepted.LocalEndPoint!);

        Assert.Equal(Inode(client), found?.Inode);
    }

    [Fact]
    public async Task FindConnection_NoSuchConnectionButAListenerOnTheLocalPort_NullNotTheListener()
    {
        // The kernel's lookup by four-tuple falls back to a listener on the local address and
        // port; a listener is never the connection asked for.
        using var listener = Listening(IPAddress.Loopback);
        var local = (IPEndPoint)listener.LocalEndPoint!;
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(local);
        using var accepted = await listener.AcceptAsync();
        var remote = (IPEndPoint)accepted.RemoteEndPoint!;
        Assert.NotNull(InetSockDiag.FindConnection(local, remote)); // positive control: the real connection

        var missing = InetSockDiag.FindConnection(local, new IPEndPoint(IPAddress.Loopback, remote.Port == 1 ? 2 : 1));

        Assert.Null(missing);
    }

    [Fact]
    public async Task FindConnection_ClientClosedFirst_NullForItsTimeWaitEntry()
    {
        using var listener = Listening(IPAddress.Loopback);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        using var accepted = await listener.AcceptAsync();
        var local = (IPEndPoint)client.LocalEndPoint!;
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        client.Shutdown(SocketShutdown.Both);
        client.Dispose();
        Assert.Equal(0, await accepted.ReceiveAsync(new byte[1]));
        accepted.Shutdown(SocketShutdown.Both);

        // The client's end goes FIN_WAIT -> TIME_WAIT: an entry with no inode, nobody's socket.
        var found = InetSockDiag.FindConnection(local, remote);

        Assert.True(found is null, $"found {found}");
    }

    [Fact]
    public void Listeners_V4AndV6OnOnePort_BothWithTheirInodesAndNoOtherPort()
    {
        using var v4 = Listening(IPAddress.Loopback);
        var port = ((IPEndPoint)v4.LocalEndPoint!).Port;
        using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        v6.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
        v6.Listen();
        using var other = Listening(IPAddress.Loopback);

        var listeners = InetSockDiag.Listeners(port);

        Assert.Equal(
            new[] { $"{Inode(v4)} {v4.LocalEndPoint}", $"{Inode(v6)} {v6.LocalEndPoint}" }.Order(StringComparer.Ordinal),
            listeners.Select(l => $"{l.Inode} {l.Local}").Order(StringComparer.Ordinal));
        Assert.All(listeners, l => Assert.Equal(Listen, l.State));
        Assert.DoesNotContain(listeners, l => l.Inode == Inode(other));
    }

    [Fact]
    public async Task Listeners_PortWithConnectionsAndTimeWait_OnlyTheListener()
    {
        using var listener = Listening(IPAddress.Loopback);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        for (var i = 0; i < 20; i++)
        {
            using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            using var accepted = await listener.AcceptAsync();
            accepted.Shutdown(SocketShutdown.Both); // the server's end closes first: TIME_WAIT on the listener's port
        }

        var listeners = InetSockDiag.Listeners(port);

        Assert.Equal([Inode(listener)], listeners.Select(l => l.Inode));
    }

    [Fact]
    public void Listeners_ClosedListener_NoLongerReported()
    {
        using var probe = Listening(IPAddress.Loopback);
        var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        var inode = Inode(probe);
        Assert.Equal([inode], InetSockDiag.Listeners(port).Select(l => l.Inode)); // positive control
        probe.Dispose();

        // The closed listener is gone. Another test running in parallel may bind the freed port at
        // once (a CI run saw it): only this socket must not be reported.
        Assert.DoesNotContain(inode, InetSockDiag.Listeners(port).Select(l => l.Inode));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(87)]
    public void TryParse_ShortOrEmptyReply_False(int length)
    {
        var reply = new byte[Math.Max(length, 8)];
        BitConverter.TryWriteBytes(reply.AsSpan(4), (ushort)20);

        Assert.False(InetSockDiag.TryParse(reply.AsSpan(0, Math.Max(length, 6)), out _));
    }

    private static Socket Listening(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, 0));
        socket.Listen();
        return socket;
    }

    private static ulong Inode(Socket socket) =>
        LinuxNative.StatxIdentity(new SafeFileHandle(socket.Handle, ownsHandle: false)).Inode;
}
