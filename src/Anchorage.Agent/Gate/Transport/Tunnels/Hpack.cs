using System.Text;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The HPACK (RFC 7541) the tunnel client needs. It encodes its request headers as literals
/// without indexing and without Huffman coding (§6.2.2), and announces
/// SETTINGS_HEADER_TABLE_SIZE = 0, so the server keeps no dynamic table for it: a response block
/// is decoded with the static table alone, and only <c>:status</c> is read from it (the other
/// fields are skipped, Huffman-coded or not; a Huffman-coded status is decoded, digits only).
/// </summary>
internal static class Hpack
{
    private const int StaticTableLength = 61;

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

    /// <summary>The <c>:status</c> of a response header block.</summary>
    /// <exception cref="FormatException">The block is malformed, refers to a dynamic table, or has no status.</exception>
    public static int DecodeStatus(ReadOnlySpan<byte> block)
    {
        int? status = null;
        var position = 0;
        while (position < block.Length)
        {
            var first = block[position];
            if ((first & 0x80) != 0)
            {
                var index = ReadInteger(block, ref position, 7);
                status ??= StatusOf(index);
                continue;
            }

            if ((first & 0xE0) == 0x20)
            {
                ReadInteger(block, ref position, 5); // dynamic table size update: the table stays empty
                continue;
            }

            var prefix = (first & 0x40) != 0 ? 6 : 4;
            var nameIndex = ReadInteger(block, ref position, prefix);
            var isStatus = false;
            if (nameIndex == 0)
            {
                var (nameBytes, huffman) = ReadString(block, ref position);
                isStatus = !huffman && nameBytes.SequenceEqual(":status"u8);
            }
            else
            {
                isStatus = nameIndex is >= 8 and <= 14;
                if (nameIndex > StaticTableLength)
                {
                    throw new FormatException($"hpack: index {nameIndex} refers to a dynamic table (the client announced size 0)");
                }
            }

            var (value, valueHuffman) = ReadString(block, ref position);
            if (isStatus && status is null)
            {
                var text = valueHuffman ? HuffmanDigits(value) : Encoding.ASCII.GetString(value);
                status = int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed)
                    ? parsed
                    : throw new FormatException($"hpack: status '{text}' is not a number");
            }
        }

        return status ?? throw new FormatException("hpack: the response has no :status");
    }

    private static int? StatusOf(int index) => index switch
    {
        0 => throw new FormatException("hpack: index 0"),
        >= 8 and <= 14 => StaticStatus[index - 8],
        > StaticTableLength => throw new FormatException($"hpack: index {index} refers to a dynamic table (the client announced size 0)"),
        _ => null,
    };

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

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefix)
    {
        var max = (1 << prefix) - 1;
        var value = block[position++] & max;
        if (value < max)
        {
            return value;
        }

        var shift = 0;
        while (true)
        {
            if (position >= block.Length || shift > 21)
            {
                throw new FormatException("hpack: bad integer");
            }

            var b = block[position++];
            value += (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }

    private static (byte[] Bytes, bool Huffman) ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        if (position >= block.Length)
        {
            throw new FormatException("hpack: truncated string");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > block.Length - position)
        {
            throw new FormatException("hpack: truncated string");
        }

        var bytes = block.Slice(position, length).ToArray();
        position += length;
        return (bytes, huffman);
    }

    // RFC 7541 Appendix B: '0'..'2' are 5-bit codes 0..2, '3'..'9' 6-bit codes 0x19..0x1f; padding is all ones.
    private static string HuffmanDigits(byte[] coded)
    {
        var text = new StringBuilder(3);
        var bits = 0UL;
        var count = 0;
        foreach (var b in coded)
        {
            bits = (bits << 8) | b;
            count += 8;
            while (count >= 5)
            {
                var five = (int)(bits >> (count - 5)) & 0x1F;
                if (five <= 2)
                {
                    text.Append((char)('0' + five));
                    count -= 5;
                    continue;
                }

                if (count < 6)
                {
                    break;
                }

                var six = (int)(bits >> (count - 6)) & 0x3F;
                if (six is >= 0x19 and <= 0x1F)
                {
                    text.Append((char)('3' + (six - 0x19)));
                    count -= 6;
                    continue;
                }

                break;
            }
        }

        var padding = (int)(bits & ((1UL << count) - 1));
        if (count >= 8 || padding != (1 << count) - 1)
        {
            throw new FormatException("hpack: a Huffman-coded status that is not digits");
        }

        return text.ToString();
    }
}
