using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Agent.Tests.Attestation;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Hosting;

/// <summary>Finding the process behind a loopback TCP connection from sock_diag and /proc/&lt;pid&gt;/fd.</summary>
[SupportedOSPlatform("linux")]
public sealed class TcpPeerLocatorTests
{
    [Fact]
    public async Task Locate_ConnectionFromThisProcess_FindsThisProcess()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        using var accepted = await listener.AcceptSocketAsync();

        using var peer = TcpPeerLocator.Locate((IPEndPoint)accepted.LocalEndPoint!, (IPEndPoint)accepted.RemoteEndPoint!);

        Assert.Equal(Environment.ProcessId, peer.ProcessId);
    }

    [Fact]
    public async Task Locate_ConnectionFromAChildProcess_FindsTheChildThenNothingOnceItIsGone()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var child = ChildProcess.Start("/usr/bin/python3", "-c", $"import socket,time; s=socket.create_connection(('127.0.0.1',{port})); time.sleep(60)");
        using var accepted = await listener.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var server = (IPEndPoint)accepted.LocalEndPoint!;
        var remote = (IPEndPoint)accepted.RemoteEndPoint!;

        using (var peer = TcpPeerLocator.Locate(server, remote))
        {
            Assert.Equal(child.Pid, peer.ProcessId);
        }

        await child.KillAsync();
        var gone = Assert.Throws<WorkloadAttestationException>(() => TcpPeerLocator.Locate(server, remote));

        Assert.Contains(gone.Message, new[] { TcpPeerLocator.NoSocket, TcpPeerLocator.NoOwner });
    }

    [Fact]
    public async Task Locate_NonLoopbackClient_NotFound()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint);
        using var accepted = await listener.AcceptSocketAsync();
        var remote = (IPEndPoint)accepted.RemoteEndPoint!;

        var e = Assert.Throws<WorkloadAttestationException>(() => TcpPeerLocator.Locate((IPEndPoint)accepted.LocalEndPoint!, new IPEndPoint(IPAddress.Parse("192.0.2.7"), remote.Port)));

        Assert.Equal("peer is not on the loopback interface", e.Message);
    }

    [Fact]
    public void Locate_NoSuchConnection_NotFound()
    {
        var e = Assert.Throws<WorkloadAttestationException>(() => TcpPeerLocator.Locate(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Loopback, 2)));

        Assert.Equal("peer socket not found in the kernel's TCP table", e.Message);
    }
}
