using System.Text;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The HPACK (RFC 7541) encoding the tunnels need: the client's request headers as literals
/// without indexing and without Huffman coding (§6.2.2), the server's status-only responses.
/// Both sides decode with <see cref="HpackDecoder"/>.
/// </summary>
internal static class Hpack
{
    /// <summary>Static table entries 8..14 (RFC 7541 Appendix A) are <c>:status</c> with these values.</summary>
    private static readonly int[] StaticStatus = [200, 204, 206, 304, 400, 404, 500];

    public static byte[] EncodeRequest(IEnumerable<(string Name, string Value)> fields)
    {
        var output = new List<byte>(128);
        foreach (var (name, value) in fields)
        {
            output.Add(0x00); // literal header field without indexing, new name
            WriteString(output, name);
            WriteString(output, value);
        }

        return [.. output];
    }

    /// <summary>
    /// The header block of a response with only <c>:status</c>: the static entry (§6.1) when there is
    /// one (200, 204, 206, 304, 400, 404, 500), otherwise a literal without indexing (§6.2.2) with
    /// the static name 8 and the raw three-digit value.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="status"/> is not 100..999.</exception>
    public static byte[] EncodeResponse(int status)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(status, 999);

        var entry = Array.IndexOf(StaticStatus, status);
        if (entry >= 0)
        {
            return [(byte)(0x80 | (8 + entry))];
        }

        var digits = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [0x08, 0x03, (byte)digits[0], (byte)digits[1], (byte)digits[2]];
    }

    /// <summary>The <c>:status</c> of a decoded response header block (<see cref="HpackDecoder"/>).</summary>
    /// <exception cref="FormatException">The block has no status, or it is not three digits.</exception>
    public static int StatusOf(IReadOnlyList<(string Name, string Value)> fields)
    {
        foreach (var (name, value) in fields)
        {
            if (name == ":status")
            {
                return value.Length == 3 && value.All(char.IsAsciiDigit)
                    ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
                    : throw new FormatException($"hpack: status '{value}' is not three digits");
            }
        }

        throw new FormatException("hpack: the response has no :status");
    }

    private static void WriteString(List<byte> output, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        WriteInteger(output, bytes.Length, 7, 0x00);
        output.AddRange(bytes);
    }

    private static void WriteInteger(List<byte> output, int value, int prefix, byte flags)
    {
        var max = (1 << prefix) - 1;
        if (value < max)
        {
            output.Add((byte)(flags | value));
            return;
        }

        output.Add((byte)(flags | max));
        value -= max;
        while (value >= 0x80)
        {
            output.Add((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }
}
