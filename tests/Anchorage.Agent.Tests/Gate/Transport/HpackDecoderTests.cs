using System.Text;
using System.Text.Json;
using Anchorage.Agent.Gate.Transport.Tunnels;

namespace Anchorage.Agent.Tests.Gate.Transport;

/// <summary>The HTTP/2 server's HPACK decoder (RFC 7541): the RFC's own examples, nghttp2's output, every error and every bound.</summary>
public class HpackDecoderTests
{
    private const string Date21 = "Mon, 21 Oct 2013 20:13:21 GMT";
    private const string Date22 = "Mon, 21 Oct 2013 20:13:22 GMT";
    private const string Location = "https://www.example.com";
    private const string SetCookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    // RFC 7541 C.2: one block each, on a fresh decoder: the field and the table afterwards.
    public static TheoryData<string, string, string, int> Literals => new()
    {
        { "400a637573746f6d2d6b65790d637573746f6d2d686561646572", "custom-key", "custom-header", 55 }, // C.2.1
        { "040c2f73616d706c652f70617468", ":path", "/sample/path", 0 },                              // C.2.2
        { "100870617373776f726406736563726574", "password", "secret", 0 },                           // C.2.3
        { "82", ":method", "GET", 0 },                                                                // C.2.4
    };

    [Theory]
    [MemberData(nameof(Literals))]
    [Trait("Spec", "RFC 7541 C.2")]
    public void Decode_LiteralExamples_FieldAndTableAsTheRfcLists(string hex, string name, string value, int tableSize)
    {
        var decoder = new HpackDecoder();

        var fields = decoder.Decode(Convert.FromHexString(hex));

        Assert.Equal([(name, value)], fields);
        Assert.Equal(tableSize, decoder.TableSize);
        Assert.Equal(tableSize == 0 ? [] : [(name, value)], decoder.Table);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Spec", "RFC 7541 C.3")]
    [Trait("Spec", "RFC 7541 C.4")]
    public void Decode_RequestExamplesInSequence_FieldsAndTableAsTheRfcLists(bool huffman)
    {
        string[] blocks = huffman
            ? [
                "828684418cf1e3c2e5f23a6ba0ab90f4ff",
                "828684be5886a8eb10649cbf",
                "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
            ]
            : [
                "828684410f7777772e6578616d706c652e636f6d",
                "828684be58086e6f2d6361636865",
                "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
            ];
        var decoder = new HpackDecoder();

        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
            decoder.Decode(Convert.FromHexString(blocks[0])));
        Assert.Equal([(":authority", "www.example.com")], decoder.Table);
        Assert.Equal(57, decoder.TableSize);

        Assert.Equal(
            [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"), ("cache-control", "no-cache")],
            decoder.Decode(Convert.FromHexString(blocks[1])));
        Assert.Equal([("cache-control", "no-cache"), (":authority", "www.example.com")], decoder.Table);
        Assert.Equal(110, decoder.TableSize);

        Assert.Equal(
            [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"), ("custom-key", "custom-value")],
            decoder.Decode(Convert.FromHexString(blocks[2])));
        Assert.Equal([("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], decoder.Table);
        Assert.Equal(164, decoder.TableSize);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    [Trait("Spec", "RFC 7541 C.5")]
    [Trait("Spec", "RFC 7541 C.6")]
    [Trait("Spec", "RFC 7541 4.4")]
    public void Decode_ResponseExamplesAtTableSize256_EvictsAsTheRfcLists(bool huffman)
    {
        string[] blocks = huffman
            ? [
                "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
                "4883640effc1c0bf",
                "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
            ]
            : [
                "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
                "4803333037c1c0bf",
                "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f504955415851574" +
                    "54f49553b206d61782d6167653d333630303b2076657273696f6e3d31",
            ];
        var decoder = new HpackDecoder(maxTableSize: 256);

        Assert.Equal(
            [(":status", "302"), ("cache-control", "private"), ("date", Date21), ("location", Location)],
            decoder.Decode(Convert.FromHexString(blocks[0])));
        Assert.Equal([("location", Location), ("date", Date21), ("cache-control", "private"), (":status", "302")], decoder.Table);
        Assert.Equal(222, decoder.TableSize);

        Assert.Equal(
            [(":status", "307"), ("cache-control", "private"), ("date", Date21), ("location", Location)],
            decoder.Decode(Convert.FromHexString(blocks[1])));
        Assert.Equal([(":status", "307"), ("location", Location), ("date", Date21), ("cache-control", "private")], decoder.Table);
        Assert.Equal(222, decoder.TableSize);

        Assert.Equal(
            [(":status", "200"), ("cache-control", "private"), ("date", Date22), ("location", Location), ("content-encoding", "gzip"), ("set-cookie", SetCookie)],
            decoder.Decode(Convert.FromHexString(blocks[2])));
        Assert.Equal([("set-cookie", SetCookie), ("content-encoding", "gzip"), ("date", Date22)], decoder.Table);
        Assert.Equal(215, decoder.TableSize);
    }

    /// <summary>
    /// Three requests on one connection as nghttp2 (Node's http2 client) encoded them: dynamic table
    /// references, Huffman coding and never-indexed literals. Made by tests/interop/node/hpack-vectors.mjs.
    /// </summary>
    [Fact]
    [Trait("Spec", "RFC 7541 6")]
    public void Decode_NodeHttp2RequestsOnOneConnection_ExactlyTheFieldsNodeSent()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Gate", "Transport", "hpack-node-vectors.json")));
        var decoder = new HpackDecoder();
        var blocks = json.RootElement.GetProperty("blocks").EnumerateArray().ToList();
        Assert.Equal(3, blocks.Count);

        foreach (var block in blocks)
        {
            var expected = block.GetProperty("fields").EnumerateArray()
                .Select(f => (f[0].GetString()!, f[1].GetString()!))
                .ToList();

            var fields = decoder.Decode(Convert.FromHexString(block.GetProperty("hex").GetString()!));

            Assert.Equal(expected, fields);
        }

        // The third request, over a thousand octets of fields, came as references to what the first indexed.
        Assert.True(Convert.FromHexString(blocks[2].GetProperty("hex").GetString()!).Length < 64);
        Assert.Contains(decoder.Table, e => e.Name == "x-long");
    }

    // Each error next to a valid block of the same kind.
    public static TheoryData<string, string?> Errors => new()
    {
        { "82", null },
        { "80", "hpack: index 0" },
        { "4001610162be", null },
        { "be", "hpack: index 62 is beyond the static and dynamic table (61 entries)" },
        { "4001610162bf", "hpack: index 63 is beyond the static and dynamic table (62 entries)" },
        { "7e", "hpack: index 62 is beyond the static and dynamic table (61 entries)" },
        { "3fe11f", null },
        { "3fe1", "hpack: truncated integer" },
        { "ff", "hpack: truncated integer" },
        { "3fffffffff07", "hpack: integer overflow" },
        { "3fffffffff0f", "hpack: integer overflow" },
        { "3f8080808080", "hpack: integer overflow (more than 5 continuation octets)" },
        { "000361626300", null },
        { "0003616263", "hpack: truncated string" },
        { "000561626301", "hpack: truncated string (5 octets, 4 left in the block)" },
        { "3fe21f", "hpack: dynamic table size update to 4097 is above the limit 4096" },
        { "203fe11f82", null },
        { "8220", "hpack: dynamic table size update after the start of the header block" },
        { "00811f00", null },
        { "0084ffffffff00", "hpack: Huffman: EOS symbol in the string" },
        { "00821fff00", "hpack: Huffman: padding longer than 7 bits" },
        { "00811800", "hpack: Huffman: padding not all ones" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    [Trait("Spec", "RFC 7541 5")]
    [Trait("Spec", "RFC 7541 6")]
    public void Decode_MalformedBlocks_FormatExceptionSaysWhatIsWrong(string hex, string? message)
    {
        var block = Convert.FromHexString(hex);

        if (message is null)
        {
            new HpackDecoder().Decode(block);
            return;
        }

        var e = Assert.Throws<FormatException>(() => new HpackDecoder().Decode(block));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    [Trait("Spec", "RFC 7541 5.1")]
    public void Decode_IntMaxValue_DecodedThenRefusedByTheLimit()
    {
        // 31 + 0x7fffffe0 = int.MaxValue as a table size update, refused only by the limit.
        var e = Assert.Throws<FormatException>(() => new HpackDecoder().Decode(Convert.FromHexString("3fe0ffffff07")));

        Assert.Equal($"hpack: dynamic table size update to {int.MaxValue} is above the limit 4096", e.Message);
    }

    [Fact]
    public void Decode_MoreFieldsThanTheLimit_Refused()
    {
        var decoder = new HpackDecoder();
        Assert.Equal(128, decoder.Decode(Enumerable.Repeat((byte)0x82, 128).ToArray()).Count);

        var e = Assert.Throws<FormatException>(() => new HpackDecoder().Decode(Enumerable.Repeat((byte)0x82, 129).ToArray()));

        Assert.Equal("hpack: more than 128 fields in the header block", e.Message);
    }

    [Fact]
    [Trait("Spec", "RFC 7541 4.2")]
    public void Decode_TableSizeUpdateAboveTheAnnouncedSize_Refused()
    {
        Assert.Empty(new HpackDecoder(maxTableSize: 256).Decode([0x3f, 0xe1, 0x01])); // 256

        var e = Assert.Throws<FormatException>(() => new HpackDecoder(maxTableSize: 256).Decode([0x3f, 0xe2, 0x01])); // 257

        Assert.Equal("hpack: dynamic table size update to 257 is above the limit 256", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decode_FieldLongerThanTheLimit_Refused(bool huffman)
    {
        // name "a", value of `length` 'a's; Huffman 'a' is 00011, eight of them fill five octets.
        static byte[] Block(int length, bool huffman)
        {
            var block = new List<byte> { 0x00, 0x01, (byte)'a' };
            byte[] value = huffman
                ? [.. Enumerable.Repeat(new byte[] { 0x18, 0xc6, 0x31, 0x8c, 0x63 }, length / 8).SelectMany(b => b)]
                : [.. Enumerable.Repeat((byte)'a', length)];
            var prefixed = value.Length - 127;
            block.AddRange([(byte)((huffman ? 0x80 : 0x00) | 0x7f), (byte)(0x80 | (prefixed & 0x7f)), (byte)(prefixed >> 7)]);
            block.AddRange(value);
            return [.. block];
        }

        var fields = new HpackDecoder().Decode(Block(16 * 1024 - 8, huffman));
        Assert.Equal(16 * 1024 - 7, fields[0].Name.Length + fields[0].Value.Length);

        var e = Assert.Throws<FormatException>(() => new HpackDecoder().Decode(Block(16 * 1024, huffman)));

        Assert.Equal($"hpack: a field of {(16 * 1024) + 1} octets is longer than the limit 16384", e.Message);
    }

    [Fact]
    public void Decode_IndexedFieldLongerThanTheLimit_Refused()
    {
        Assert.Equal([(":method", "GET")], new HpackDecoder(maxFieldBytes: 10).Decode([0x82]));

        var e = Assert.Throws<FormatException>(() => new HpackDecoder(maxFieldBytes: 10).Decode([0x90]));

        Assert.Equal("hpack: a field of 28 octets is longer than the limit 10", e.Message);
    }

    [Fact]
    [Trait("Spec", "RFC 7541 4.4")]
    public void Decode_EntryLargerThanTheTable_EmptiesItAndIsStillAField()
    {
        var decoder = new HpackDecoder(maxTableSize: 64);
        decoder.Decode(Convert.FromHexString("4001610162")); // a: b, 34 octets
        Assert.Equal([("a", "b")], decoder.Table);

        var value = new string('v', 32);
        var fields = decoder.Decode([0x40, 0x01, (byte)'c', 0x20, .. Encoding.Latin1.GetBytes(value)]); // 65 octets

        Assert.Equal([("c", value)], fields);
        Assert.Empty(decoder.Table);
        Assert.Equal(0, decoder.TableSize);
    }

    [Fact]
    [Trait("Spec", "RFC 7541 4.3")]
    [Trait("Spec", "RFC 7541 6.3")]
    public void Decode_TableSizeUpdate_EvictsAndBoundsLaterEntries()
    {
        var decoder = new HpackDecoder();
        decoder.Decode(Convert.FromHexString("40016101624001630164")); // a: b, c: d
        Assert.Equal(68, decoder.TableSize);

        decoder.Decode([0x3f, 0x0b, 0x82]); // size 42: only the newest entry fits
        Assert.Equal([("c", "d")], decoder.Table);
        Assert.Equal(42, decoder.TableCapacity);

        decoder.Decode([0x20, 0x3f, 0x0b]); // 0 then 42: emptied, then room again
        Assert.Empty(decoder.Table);
        Assert.Equal([(":method", "GET"), ("e", "f")], decoder.Decode(Convert.FromHexString("82" + "4001650166")));
        Assert.Equal([("e", "f")], decoder.Table);
    }

    [Fact]
    [Trait("Spec", "RFC 7541 6.2")]
    public void Decode_LiteralsWithIndexedNames_NameFromStaticAndDynamicTable()
    {
        var decoder = new HpackDecoder();

        var fields = decoder.Decode(Convert.FromHexString(
            "440b2f696e6465782e68746d6c" + // incremental indexing, name 4 (:path)
            "7e0178" +                     // incremental indexing, name 62 (:path, the entry just added)
            "0f1003747275" +               // without indexing, name 31 (content-type), 4-bit prefix + 16
            "1f10024869"));                // never indexed, name 31

        Assert.Equal([(":path", "/index.html"), (":path", "x"), ("content-type", "tru"), ("content-type", "Hi")], fields);
        Assert.Equal([(":path", "x"), (":path", "/index.html")], decoder.Table);
    }

    [Fact]
    public void Decode_OctetsAbove0x7F_Latin1()
    {
        var fields = new HpackDecoder().Decode([0x00, 0x01, (byte)'x', 0x02, 0xe9, 0xff]);

        Assert.Equal([("x", "\u00e9\u00ff")], fields);
    }

    // RFC 7541 Appendix B, as the RFC prints them: the canonical code rebuilt from the lengths is the RFC's.
    public static TheoryData<int, int, int> Codes => new()
    {
        { 0, 0x1ff8, 13 },
        { 1, 0x7fffd8, 23 },
        { 9, 0xffffea, 24 },
        { 10, 0x3ffffffc, 30 },
        { ' ', 0x14, 6 },
        { '0', 0x0, 5 },
        { '3', 0x19, 6 },
        { 'a', 0x3, 5 },
        { 'X', 0xfc, 8 },
        { '~', 0x1ffd, 13 },
        { 255, 0x3ffffee, 26 },
        { HpackHuffman.Eos, 0x3fffffff, 30 },
    };

    [Theory]
    [MemberData(nameof(Codes))]
    [Trait("Spec", "RFC 7541 B")]
    public void HuffmanCodeOf_SymbolsFromAppendixB_SameCodeAndLength(int symbol, int code, int length)
    {
        Assert.Equal((code, length), HpackHuffman.CodeOf(symbol));
    }

    [Fact]
    [Trait("Spec", "RFC 7541 5.2")]
    public void HuffmanDecode_EveryOctet_RoundTrips()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var coded = HuffmanEncode(all);
        var decoded = new byte[HpackHuffman.MaxDecodedLength(coded.Length)];

        var length = HpackHuffman.Decode(coded, decoded);

        Assert.Equal(all, decoded[..length]);
    }

    [Fact]
    public void HuffmanDecode_Empty_Empty()
    {
        Assert.Equal(0, HpackHuffman.Decode([], []));
        Assert.Equal([("", "")], new HpackDecoder().Decode([0x00, 0x80, 0x80]));
    }

    [Theory]
    [InlineData(200, "88")]
    [InlineData(204, "89")]
    [InlineData(500, "8E")]
    [InlineData(403, "0803343033")]
    [InlineData(101, "0803313031")]
    [Trait("Spec", "RFC 7541 6")]
    public void EncodeResponse_Status_RoundTripsThroughBothDecoders(int status, string hex)
    {
        var block = Hpack.EncodeResponse(status);

        Assert.Equal(hex, Convert.ToHexString(block));
        Assert.Equal([(":status", status.ToString(System.Globalization.CultureInfo.InvariantCulture))], new HpackDecoder().Decode(block));
        Assert.Equal(status, Hpack.StatusOf(new HpackDecoder().Decode(block)));
    }

    [Theory]
    [InlineData(99)]
    [InlineData(1000)]
    public void EncodeResponse_NotThreeDigits_Throws(int status)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Hpack.EncodeResponse(status));
    }

    [FsCheck.Xunit.Property(MaxTest = 2000)]
    public bool Decode_ArbitraryBytes_FieldsOrFormatException(byte[] block)
    {
        try
        {
            new HpackDecoder(maxTableSize: 256).Decode(block);
        }
        catch (FormatException e) when (e.Message.StartsWith("hpack: ", StringComparison.Ordinal))
        {
        }

        return true;
    }

    // A test-only encoder: each octet's code from CodeOf, then EOS padding.
    private static byte[] HuffmanEncode(byte[] octets)
    {
        var output = new List<byte>();
        var bits = 0UL;
        var count = 0;
        foreach (var octet in octets)
        {
            var (code, length) = HpackHuffman.CodeOf(octet);
            bits = (bits << length) | (uint)code;
            count += length;
            while (count >= 8)
            {
                output.Add((byte)(bits >> (count - 8)));
                count -= 8;
            }
        }

        if (count > 0)
        {
            output.Add((byte)((bits << (8 - count)) | (0xFFUL >> count)));
        }

        return [.. output];
    }
}
