using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Cli.Commands.Demo.Internal;

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

    /// <summary>A free TCP port on 127.0.0.1 at the moment of asking.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary><c>127.0.0.1:PORT</c>.</summary>
    public static string Loopback(int port) => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");
}
