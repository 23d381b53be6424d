using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Anchorage.Agent.Internal;

/// <summary>
/// Reads the kernel's TCP socket tables (proc(5): /proc/net/tcp and /proc/net/tcp6) to find the
/// inode of the socket at one end of a connection.
/// </summary>
/// <remarks>
/// Each row is <c>sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...</c>.
/// Addresses are hex words in the kernel's (host) byte order, one word for IPv4 and four for IPv6;
/// ports are big hex numbers. Rows in TIME_WAIT carry inode 0 and belong to nobody.
/// </remarks>
internal static class ProcNetTcp
{
    /// <summary>The tables of the agent's network namespace, IPv4 first.</summary>
    internal static readonly string[] TablePaths = ["/proc/net/tcp", "/proc/net/tcp6"];

    /// <summary>One row of a TCP table.</summary>
    internal readonly record struct Row(IPEndPoint Local, IPEndPoint Remote, int State, uint Uid, ulong Inode);

    /// <summary>
    /// The inode of the socket whose local end is <paramref name="local"/> and remote end
    /// <paramref name="remote"/> in the table <paramref name="text"/>, or null when no row (with a
    /// non-zero inode) matches. IPv4-mapped IPv6 addresses compare equal to their IPv4 address.
    /// </summary>
    internal static ulong? FindInode(string text, IPEndPoint local, IPEndPoint remote) => FindRow(text, local, remote)?.Inode;

    /// <summary>The row behind <see cref="FindInode"/>: its inode and the uid that created the socket.</summary>
    internal static Row? FindRow(string text, IPEndPoint local, IPEndPoint remote)
    {
        var wantLocal = Normalize(local);
        var wantRemote = Normalize(remote);
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            if (TryParseRow(line, out var row) && row.Inode != 0
                && Normalize(row.Local).Equals(wantLocal) && Normalize(row.Remote).Equals(wantRemote))
            {
                return row;
            }
        }

        return null;
    }

    /// <summary>Parses one row; false for the header line and anything malformed.</summary>
    internal static bool TryParseRow(ReadOnlySpan<char> line, out Row row)
    {
        row = default;
        Span<Range> fields = stackalloc Range[11];
        var trimmed = line.Trim();
        var count = trimmed.Split(fields, ' ', StringSplitOptions.RemoveEmptyEntries);
        if (count < 10 || !trimmed[fields[0]].EndsWith(':'))
        {
            return false;
        }

        if (!TryParseEndpoint(trimmed[fields[1]], out var local)
            || !TryParseEndpoint(trimmed[fields[2]], out var remote)
            || !int.TryParse(trimmed[fields[3]], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var state)
            || !uint.TryParse(trimmed[fields[7]], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            || !ulong.TryParse(trimmed[fields[9]], NumberStyles.None, CultureInfo.InvariantCulture, out var inode))
        {
            return false;
        }

        row = new Row(local, remote, state, uid, inode);
        return true;
    }

    /// <summary>Parses <c>0100007F:1F90</c> (IPv4) or 32 hex digits and a port (IPv6).</summary>
    internal static bool TryParseEndpoint(ReadOnlySpan<char> text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        var colon = text.IndexOf(':');
        if (colon < 0 || (colon != 8 && colon != 32)
            || !ushort.TryParse(text[(colon + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var port))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[colon / 2];
        for (var word = 0; word < colon / 8; word++)
        {
            if (!uint.TryParse(text.Slice(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            // The kernel prints each 32-bit word as the number it holds in memory, so the word's
            // bytes in host order are the address bytes.
            if (BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.Slice(word * 4, 4), value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(bytes.Slice(word * 4, 4), value);
            }
        }

        endpoint = new IPEndPoint(new IPAddress(bytes), port);
        return true;
    }

    /// <summary>IPv4-mapped IPv6 endpoints as IPv4, so a dual-stack socket's view matches the table's.</summary>
    internal static IPEndPoint Normalize(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endpoint.Address.MapToIPv4(), endpoint.Port) : endpoint;
}
