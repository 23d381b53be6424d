using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Hosting.Config;

/// <summary>Parses <c>host:port</c> listen addresses (IPv4, bracketed IPv6, localhost).</summary>
public static class Endpoints
{
    public static bool TryParse(string text, [NotNullWhen(true)] out HostPort? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        string host;
        string port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = "must be host:port";
                return false;
            }

            host = text[1..close];
            port = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = $"host {ConfigText.Quote(host)} in brackets must be an IPv6 address";
                return false;
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0)
            {
                error = "must be host:port";
                return false;
            }

            host = text[..colon];
            port = text[(colon + 1)..];
            if (host.Contains(':', StringComparison.Ordinal))
            {
                error = "an IPv6 address must be in brackets, e.g. [::1]:8081";
                return false;
            }

            if (!string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) && !IsDottedQuad(host))
            {
                error = $"host {ConfigText.Quote(host)} must be an IP address or localhost";
                return false;
            }
        }

        var number = port.Length is >= 1 and <= 5 && port.All(char.IsAsciiDigit)
            ? int.Parse(port, NumberStyles.None, CultureInfo.InvariantCulture)
            : -1;
        if (number is < 0 or > 65535)
        {
            error = $"port {ConfigText.Quote(port)} must be a number from 0 to 65535";
            return false;
        }

        result = new HostPort(host, number);
        error = null;
        return true;
    }

    // IPAddress.TryParse accepts "1" or "010.1" (inet_aton forms); configuration wants a.b.c.d only.
    private static bool IsDottedQuad(string host)
    {
        var parts = host.Split('.');
        return parts.Length == 4 && parts.All(p =>
            p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit)
            && int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture) <= 255);
    }
}
