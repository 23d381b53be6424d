using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Foundation.Config;

/// <summary>
/// A listen address from configuration: an IPv4 address, an IPv6 address (written in brackets:
/// <c>[::1]:8081</c>) or <c>localhost</c>, and a port from 0 to 65535 (0: any free port).
/// </summary>
/// <param name="Host">The IP address as written, or <c>localhost</c>.</param>
/// <param name="Port">0 to 65535.</param>
public sealed record HostPort(string Host, int Port)
{
    /// <summary>True when <see cref="Host"/> is <c>localhost</c>.</summary>
    public bool IsLocalhost => string.Equals(Host, "localhost", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The socket address to bind. <c>localhost</c> binds the IPv4 loopback address only, so that
    /// port 0 yields one predictable endpoint.
    /// </summary>
    public IPEndPoint ToIPEndPoint() =>
        new(IsLocalhost ? IPAddress.Loopback : IPAddress.Parse(Host), Port);

    /// <summary><c>host:port</c>, with IPv6 addresses in brackets.</summary>
    public override string ToString() =>
        !IsLocalhost && IPAddress.TryParse(Host, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6
            ? string.Create(CultureInfo.InvariantCulture, $"[{Host}]:{Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
}
