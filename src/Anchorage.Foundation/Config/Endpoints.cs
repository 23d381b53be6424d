using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.Foundation.Config;

/// <summary>
/// The one <c>host:port</c> parser: listen addresses (IPv4, bracketed IPv6 or localhost; port 0
/// means "any") and dial addresses (also DNS names; port 1 to 65535).
/// </summary>
public static class Endpoints
{
    /// <summary>Parses a listen address.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out HostPort? result, [NotNullWhen(false)] out string? error) =>
        TryParse(text, dial: false, out result, out error);

    /// <summary>Parses an address to dial: the host may be a DNS name (RFC 1123), and port 0 means nothing.</summary>
    public static bool TryParseDial(string text, [NotNullWhen(true)] out HostPort? result, [NotNullWhen(false)] out string? error) =>
        TryParse(text, dial: true, out result, out error);

    private static bool TryParse(string text, bool dial, [NotNullWhen(true)] out HostPort? result, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
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
                error = dial ? "an IPv6 address must be in brackets, e.g. [fd00::1]:8081" : "an IPv6 address must be in brackets, e.g. [::1]:8081";
                return false;
            }

            if (dial && !IsDottedQuad(host) && !IsDnsName(host))
            {
                error = $"host {ConfigText.Quote(host)} must be a DNS name or an IP address";
                return false;
            }

            if (!dial && !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) && !IsDottedQuad(host))
            {
                error = $"host {ConfigText.Quote(host)} must be an IP address or localhost";
                return false;
            }
        }

        var lowest = dial ? 1 : 0;
        var number = port.Length is >= 1 and <= 5 && port.All(char.IsAsciiDigit)
            ? int.Parse(port, NumberStyles.None, CultureInfo.InvariantCulture)
            : -1;
        if (number < lowest || number > 65535)
        {
            error = $"port {ConfigText.Quote(port)} must be a number from {lowest} to 65535";
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

    // RFC 1123 host names: labels of letters, digits and inner hyphens, 1 to 63 characters, 253 in all.
    // A numeric last label is refused so a mistyped IPv4 address ("10.1.2") is not taken for a name.
    private static bool IsDnsName(string host)
    {
        if (host.Length is 0 or > 253)
        {
            return false;
        }

        var labels = host.Split('.');
        return labels.All(l =>
                l.Length is >= 1 and <= 63
                && l[0] != '-' && l[^1] != '-'
                && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            && !labels[^1].All(char.IsAsciiDigit);
    }
}
