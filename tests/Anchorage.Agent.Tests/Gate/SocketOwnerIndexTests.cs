using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Tests.Attestation;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.Agent.Tests.Gate;

/// <summary>
/// Issue 11 item 3 on the real socket tables: the inbound gate's check, after dialing the forward
/// address, that the process attested for it still owns every listener there.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SocketOwnerIndexTests
{
    // Listens on 127.0.0.1:argv[1] (SO_REUSEADDR), says so, then waits to be killed.
    private const string Listener = """
        import socket, sys, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(8)
        print('listening', flush=True)
        time.sleep(60)
        """;

    private const string ReusePortListener = """
        import socket, sys, time
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(8)
        print('listening', flush=True)
        time.sleep(60)
        """;

    private static string Self => Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void ListenerChange_AttestedProcessStillListens_Null()
    {
        using var listener = Listen(0);
        var address = (IPEndPoint)listener.LocalEndPoint!;
        using var attested = new SocketOwnerIndex().LocateListener(address);

        Assert.Equal(Environment.ProcessId, attested.ProcessId);
        Assert.NotNull(attested.PinnedExecutable);
        Assert.Null(SocketOwnerIndex.ListenerChange(attested, address));
    }

    [Fact]
    public async Task ListenerChange_AnotherProcessBoundThePortAfterTheAttestation_NamesTheChange()
    {
        var listener = Listen(0);
        var address = (IPEndPoint)listener.LocalEndPoint!;
        using var attested = new SocketOwnerIndex().LocateListener(address);
        Assert.Null(SocketOwnerIndex.ListenerChange(attested, address)); // positive control, same fixture

        listener.Dispose();
        Assert.Equal($"no process listens on {address}", SocketOwnerIndex.ListenerChange(attested, address));

        using var rogue = ChildProcess.Start("/usr/bin/python3", "-c", Listener, address.Port.ToString(CultureInfo.InvariantCulture));
        await Eventually.TrueAsync(() => rogue.Lines.Contains("listening"));
        Assert.Equal(
            $"a socket listening on {address} is not held by process {Self}, which was attested",
            SocketOwnerIndex.ListenerChange(attested, address));
    }

    [Fact]
    public async Task ListenerChange_AttestedProcessExited_NamesTheExit()
    {
        var port = LoopbackPort.Unused();
        var address = new IPEndPoint(IPAddress.Loopback, port);
        using var legit = ChildProcess.Start("/usr/bin/python3", "-c", Listener, port.ToString(CultureInfo.InvariantCulture));
        await Eventually.TrueAsync(() => legit.Lines.Contains("listening"));
        using var attested = new SocketOwnerIndex().LocateListener(address);
        Assert.Equal(legit.Pid, attested.ProcessId);
        Assert.Null(SocketOwnerIndex.ListenerChange(attested, address));

        await legit.KillAsync();
        using var rogue = Listen(port);
        Assert.Equal(
            $"process {legit.Pid.ToString(CultureInfo.InvariantCulture)} that listened on {address} exited",
            SocketOwnerIndex.ListenerChange(attested, address));
    }

    [Fact]
    public async Task ListenerChange_ReusePortListenerOfAnotherProcessOnTheWildcard_NamesTheChange()
    {
        // Same uid, SO_REUSEPORT on both: Linux lets a second process listen on the wildcard
        // address with the port and spreads connections to 127.0.0.1 over both sockets.
        using var first = ReusePort(IPAddress.Loopback, 0);
        var address = (IPEndPoint)first.LocalEndPoint!;
        using var attested = new SocketOwnerIndex().LocateListener(address);
        using (ReusePort(IPAddress.Any, address.Port))
        {
            Assert.Null(SocketOwnerIndex.ListenerChange(attested, address)); // positive control: both are the attested process's
        }

        using var rogue = ChildProcess.Start("/usr/bin/python3", "-c", ReusePortListener, address.Port.ToString(CultureInfo.InvariantCulture));
        await Eventually.TrueAsync(() => rogue.Lines.Contains("listening"));
        Assert.Equal(
            $"a socket listening on {address} is not held by process {Self}, which was attested",
            SocketOwnerIndex.ListenerChange(attested, address));
    }

    private static Socket Listen(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        socket.Listen(8);
        return socket;
    }

    private static Socket ReusePort(IPAddress address, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_REUSEPORT
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(8);
        return socket;
    }
}
