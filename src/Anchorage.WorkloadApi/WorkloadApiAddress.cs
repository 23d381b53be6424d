using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Anchorage.WorkloadApi;

/// <summary>
/// Where the SPIFFE Workload API is served: a Unix domain socket (<c>unix:///abs/path</c>) or a
/// TCP endpoint given by IP address (<c>tcp://127.0.0.1:8000</c>), per SPIFFE Workload Endpoint §4.
/// </summary>
public sealed class WorkloadApiAddress
{
    /// <summary>The environment variable conforming clients fall back to (SPIFFE Workload Endpoint §4).</summary>
    public const string EnvironmentVariable = "SPIFFE_ENDPOINT_SOCKET";

    private WorkloadApiAddress(string text, string? socketPath, IPEndPoint? endPoint)
    {
        Text = text;
        SocketPath = socketPath;
        TcpEndPoint = endPoint;
    }

    /// <summary>The address as given.</summary>
    public string Text { get; }

    /// <summary>The absolute path of the Unix domain socket; null for a TCP address.</summary>
    public string? SocketPath { get; }

    /// <summary>The TCP endpoint; null for a Unix domain socket address.</summary>
    public IPEndPoint? TcpEndPoint { get; }

    /// <summary>True for a Unix domain socket address.</summary>
    [MemberNotNullWhen(true, nameof(SocketPath))]
    [MemberNotNullWhen(false, nameof(TcpEndPoint))]
    public bool IsUnix => SocketPath is not null;

    /// <summary>
    /// Parses an address. <c>unix</c>: no authority, an absolute path, nothing else
    /// (<c>unix:///run/api.sock</c>, or its RFC 3986 equivalent <c>unix:/run/api.sock</c>).
    /// <c>tcp</c>: an IP address (never a DNS name) and a port, nothing else
    /// (SPIFFE Workload Endpoint §4).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="address"/> is null.</exception>
    /// <exception cref="FormatException">The address breaks a rule; the message names it.</exception>
    public static WorkloadApiAddress Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return TryParse(address, out var result, out var error) ? result : throw new FormatException(error);
    }

    /// <summary>Parses an address; false when it breaks a rule of <see cref="Parse"/>.</summary>
    public static bool TryParse([NotNullWhen(true)] string? address, [NotNullWhen(true)] out WorkloadApiAddress? result) =>
        TryParse(address, out result, out _);

    /// <summary>
    /// The explicit <paramref name="address"/> when given, else the value of
    /// <c>SPIFFE_ENDPOINT_SOCKET</c> (SPIFFE Workload Endpoint §4).
    /// </summary>
    /// <exception cref="FormatException">The address breaks a rule of <see cref="Parse"/>.</exception>
    /// <exception cref="InvalidOperationException">No address is given and the variable is unset.</exception>
    public static WorkloadApiAddress Resolve(string? address = null)
    {
        if (string.IsNullOrEmpty(address))
        {
            address = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (string.IsNullOrEmpty(address))
            {
                throw new InvalidOperationException("no workload api address: configure one or set " + EnvironmentVariable);
            }
        }

        return Parse(address);
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    private static bool TryParse(string? address, [NotNullWhen(true)] out WorkloadApiAddress? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        if (string.IsNullOrEmpty(address))
        {
            error = "workload api address is empty";
            return false;
        }

        var colon = address.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || address.AsSpan(0, colon).ContainsAny("/?#"))
        {
            error = "workload api address has no scheme (want unix:///path or tcp://ip:port)";
            return false;
        }

        var scheme = address[..colon];
        var isUnix = scheme.Equals("unix", StringComparison.OrdinalIgnoreCase);
        if (!isUnix && !scheme.Equals("tcp", StringComparison.OrdinalIgnoreCase))
        {
            error = "workload api address scheme must be unix or tcp";
            return false;
        }

        if (address.Contains('#', StringComparison.Ordinal))
        {
            error = "workload api address must not have a fragment";
            return false;
        }

        if (address.Contains('?', StringComparison.Ordinal))
        {
            error = "workload api address must not have a query";
            return false;
        }

        var rest = address[(colon + 1)..];
        string? authority = null;
        var path = rest;
        if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            var slash = rest.IndexOf('/', 2);
            authority = slash < 0 ? rest[2..] : rest[2..slash];
            path = slash < 0 ? string.Empty : rest[slash..];
        }

        return isUnix
            ? TryParseUnix(address, authority, path, out result, out error)
            : TryParseTcp(address, authority, path, out result, out error);
    }

    private static bool TryParseUnix(string address, string? authority, string path, [NotNullWhen(true)] out WorkloadApiAddress? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        if (!string.IsNullOrEmpty(authority))
        {
            error = "unix workload api address must not have an authority (want unix:///path)";
            return false;
        }

        if (!path.StartsWith('/'))
        {
            error = "unix workload api address path must be absolute";
            return false;
        }

        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(path);
        }
        catch (UriFormatException)
        {
            error = "unix workload api address path is not a valid uri path";
            return false;
        }

        error = null;
        result = new WorkloadApiAddress(address, decoded, null);
        return true;
    }

    private static bool TryParseTcp(string address, string? authority, string path, [NotNullWhen(true)] out WorkloadApiAddress? result, [NotNullWhen(false)] out string? error)
    {
        result = null;
        if (string.IsNullOrEmpty(authority))
        {
            error = "tcp workload api address must have an ip address and a port";
            return false;
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            error = "tcp workload api address must not have user info";
            return false;
        }

        if (path.Length != 0)
        {
            error = "tcp workload api address must not have a path";
            return false;
        }

        string host;
        string? port;
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            host = close < 0 ? authority : authority[1..close];
            port = close >= 0 && close + 1 < authority.Length && authority[close + 1] == ':' ? authority[(close + 2)..] : null;
            if (close < 0 || !IPAddress.TryParse(host, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = "tcp workload api address host must be an ip address";
                return false;
            }
        }
        else
        {
            var lastColon = authority.LastIndexOf(':');
            host = lastColon < 0 ? authority : authority[..lastColon];
            port = lastColon < 0 ? null : authority[(lastColon + 1)..];
        }

        // IPv4 only in dotted-quad form: IPAddress.TryParse also takes "127.1" or "2130706433".
        if (!IPAddress.TryParse(host, out var ip)
            || (ip.AddressFamily == AddressFamily.InterNetwork && ip.ToString() != host)
            || (ip.AddressFamily == AddressFamily.InterNetworkV6 && !authority.StartsWith('[')))
        {
            error = "tcp workload api address host must be an ip address";
            return false;
        }

        if (string.IsNullOrEmpty(port))
        {
            error = "tcp workload api address must have a port";
            return false;
        }

        if (!port.All(char.IsAsciiDigit)
            || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            error = "tcp workload api address port must be a number from 1 to 65535";
            return false;
        }

        error = null;
        result = new WorkloadApiAddress(address, null, new IPEndPoint(ip, number));
        return true;
    }
}
