using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Tests.Commands.Demo;

public sealed class DemoEndpointTests
{
    [Fact]
    public void FreeLoopbackPort_ManyCalls_DistinctBindableAndBelowTheEphemeralRange()
    {
        var ephemeralLow = int.Parse(
            File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0],
            CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 50).Select(_ => DemoEndpoint.FreeLoopbackPort()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, p => Assert.InRange(p, 10000, ephemeralLow - 1));
        foreach (var port in ports)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
    }

    [Fact]
    public void FreeLoopbackPort_PortTakenByAListener_NeverHandedOut()
    {
        // Take a block of the candidate ports, then ask often: none of the taken ones comes back.
        var taken = new List<Socket>();
        try
        {
            for (var port = 10000; port < 10200; port++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                    socket.Listen();
                    taken.Add(socket);
                }
                catch (SocketException)
                {
                    socket.Dispose();
                }
            }

            var busy = taken.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).ToHashSet();
            var handed = Enumerable.Range(0, 300).Select(_ => DemoEndpoint.FreeLoopbackPort()).ToList();

            Assert.DoesNotContain(handed, busy.Contains);
            Assert.NotEmpty(busy);
        }
        finally
        {
            taken.ForEach(s => s.Dispose());
        }
    }
}
