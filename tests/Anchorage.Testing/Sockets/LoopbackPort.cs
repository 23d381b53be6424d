using System.Net;
using System.Net.Sockets;

namespace Anchorage.Testing.Sockets;

/// <summary>Loopback TCP ports for tests.</summary>
public static class LoopbackPort
{
    /// <summary>
    /// A port on 127.0.0.1 that nothing listens on right now: the kernel's pick for a listener that
    /// is closed at once. For a server the test starts on it next, or as an endpoint that refuses
    /// connections (another process could take it in between; the kernel hands ports out in turn,
    /// so that is rare).
    /// </summary>
    public static int Unused()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
