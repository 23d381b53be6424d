using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>The addresses the demo's workloads dial: <c>unix:///abs/path</c> or <c>tcp://ip:port</c>.</summary>
internal static class DemoEndpoint
{
    /// <summary>Parses <paramref name="address"/>.</summary>
    /// <exception cref="FormatException">Neither form.</exception>
    public static EndPoint Parse(string address)
    {
        if (address.StartsWith("unix://", StringComparison.Ordinal) && address.Length > "unix://".Length && address["unix://".Length] == '/')
        {
            return new UnixDomainSocketEndPoint(address["unix://".Length..]);
        }

        if (address.StartsWith("tcp://", StringComparison.Ordinal) && IPEndPoint.TryParse(address["tcp://".Length..], out var ip) && ip.Port != 0)
        {
            return ip;
        }

        throw new FormatException($"\"{address}\" is not unix:///path or tcp://ip:port");
    }

    /// <summary>Connects a stream socket to <paramref name="endPoint"/>.</summary>
    public static async Task<Socket> ConnectAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    // Below the kernel's ephemeral range no outgoing connection takes a port between our check and
    // the child's bind (a port the kernel handed out as "free" raced with the machine's own connects).
    private const int LowestPort = 10000;
    private static readonly HashSet<int> Handed = [];

    /// <summary>
    /// A TCP port on 127.0.0.1 that is free at the moment of asking, not handed out before in this
    /// process and, where the machine allows, below the kernel's ephemeral port range.
    /// </summary>
    public static int FreeLoopbackPort()
    {
        var below = EphemeralLow() - 1;
        lock (Handed)
        {
            for (var attempt = 0; below - LowestPort > 1000 && attempt < 200; attempt++)
            {
                var port = System.Security.Cryptography.RandomNumberGenerator.GetInt32(LowestPort, below + 1);
                if (!Handed.Contains(port) && CanBind(port))
                {
                    Handed.Add(port);
                    return port;
                }
            }

            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var any = ((IPEndPoint)listener.LocalEndPoint!).Port;
            Handed.Add(any);
            return any;
        }
    }

    private static bool CanBind(int port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    // The first port of net.ipv4.ip_local_port_range ("32768\t60999"); Linux's default when unreadable.
    private static int EphemeralLow()
    {
        try
        {
            var text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            var first = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            return int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out var low) ? low : 32768;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public static string Loopback(int port) => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");
}
