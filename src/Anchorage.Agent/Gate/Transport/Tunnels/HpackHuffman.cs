namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The HPACK Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical (codes of one length
/// are consecutive, in symbol order, after the codes of every shorter length), so the code lengths
/// alone define it: the codes are rebuilt from them at start-up and decoded bit by bit.
/// </summary>
internal static class HpackHuffman
{
    /// <summary>The end-of-string symbol: never sent; its leading bits are the padding.</summary>
    public const int Eos = 256;

    private const int ShortestCode = 5;
    private const int LongestCode = 30;

    /// <summary>RFC 7541 Appendix B: the code length in bits of each symbol 0..255 and EOS (256).</summary>
    private static readonly byte[] CodeLengths =
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0-15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16-31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,         // 32-47: ' ' .. '/'
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,              // 48-63: '0' .. '?'
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                // 64-79: '@' .. 'O'
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,             // 80-95: 'P' .. '_'
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                // 96-111: '`' .. 'o'
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,            // 112-127: 'p' .. DEL
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
        30,                                                             // EOS
    ];

    // The canonical code, by length: the first code of each length, how many codes have it, and
    // where its symbols start in Symbols (every symbol, ordered by code length, then value).
    private static readonly int[] FirstCode = new int[LongestCode + 1];
    private static readonly int[] CodeCount = new int[LongestCode + 1];
    private static readonly int[] FirstSymbol = new int[LongestCode + 1];
    private static readonly int[] Symbols = BuildSymbols();

    /// <summary>The most octets <paramref name="codedLength"/> coded octets can decode to (every code is 5 bits or more).</summary>
    public static int MaxDecodedLength(int codedLength) => (int)((long)codedLength * 8 / ShortestCode);

    /// <summary>
    /// Decodes <paramref name="coded"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxDecodedLength"/> octets) and returns how many octets it wrote.
    /// </summary>
    /// <exception cref="FormatException">
    /// The string holds the EOS symbol, or ends in padding longer than 7 bits or not all ones (§5.2).
    /// </exception>
    public static int Decode(ReadOnlySpan<byte> coded, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, MaxDecodedLength(coded.Length));

        var written = 0;
        var code = 0;
        var length = 0;
        foreach (var octet in coded)
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                code = (code << 1) | ((octet >> bit) & 1);
                length++;

                // The code is complete (Kraft sum 1), so a match comes by LongestCode bits at the latest.
                var offset = code - FirstCode[length];
                if (length < ShortestCode || offset < 0 || offset >= CodeCount[length])
                {
                    continue;
                }

                var symbol = Symbols[FirstSymbol[length] + offset];
                if (symbol == Eos)
                {
                    throw new FormatException("hpack: Huffman: EOS symbol in the string");
                }

                destination[written++] = (byte)symbol;
                code = 0;
                length = 0;
            }
        }

        // What is left is padding: the most significant bits of EOS, which are all ones.
        if (length > 7)
        {
            throw new FormatException("hpack: Huffman: padding longer than 7 bits");
        }

        if (code != (1 << length) - 1)
        {
            throw new FormatException("hpack: Huffman: padding not all ones");
        }

        return written;
    }

    /// <summary>The code of <paramref name="symbol"/> (0..256), right-aligned, and its length in bits.</summary>
    internal static (int Code, int Length) CodeOf(int symbol)
    {
        var length = CodeLengths[symbol];
        var position = Array.IndexOf(Symbols, symbol, FirstSymbol[length], CodeCount[length]);
        return (FirstCode[length] + position - FirstSymbol[length], length);
    }

    private static int[] BuildSymbols()
    {
        foreach (var length in CodeLengths)
        {
            CodeCount[length]++;
        }

        var code = 0;
        var index = 0;
        for (var length = 1; length <= LongestCode; length++)
        {
            code = (code + CodeCount[length - 1]) << 1;
            FirstCode[length] = code;
            FirstSymbol[length] = index;
            index += CodeCount[length];
        }

        var symbols = new int[CodeLengths.Length];
        var next = (int[])FirstSymbol.Clone();
        for (var symbol = 0; symbol < CodeLengths.Length; symbol++)
        {
            symbols[next[CodeLengths[symbol]]++] = symbol;
        }

        return symbols;
    }
}
