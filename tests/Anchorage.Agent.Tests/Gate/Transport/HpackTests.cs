using Anchorage.Agent.Gate.Transport.Tunnels;

namespace Anchorage.Agent.Tests.Gate.Transport;

/// <summary>The tunnels' HPACK encoding, and the status a client reads from a decoded response block (RFC 7541).</summary>
public class HpackTests
{
    public static TheoryData<string, int> Statuses => new()
    {
        { "88", 200 },                   // indexed, static entry 8
        { "8d", 404 },                   // indexed, static entry 13
        { "0803343033", 403 },           // literal without indexing, indexed name :status, raw "403"
        { "48826402", 302 },             // RFC 7541 C.6.1: incremental indexing, Huffman "302"
        { "4883640eff", 307 },           // RFC 7541 C.6.2: Huffman "307"
        { "20" + "0f0d023130" + "88", 200 }, // table size update to 0, content-length literal skipped, then the status
        { "0007" + "3a737461747573" + "03353032", 502 }, // literal with a new name ":status"
    };

    [Theory]
    [MemberData(nameof(Statuses))]
    [Trait("Spec", "RFC 7541 6")]
    public void StatusOf_ValidBlocks_ReadsTheStatus(string hex, int status)
    {
        Assert.Equal(status, Hpack.StatusOf(new HpackDecoder().Decode(Convert.FromHexString(hex))));
    }

    public static TheoryData<string, string> Invalid => new()
    {
        { "be", "hpack: index 62 is beyond the static and dynamic table (61 entries)" },
        { "0f0d023130", "hpack: the response has no :status" },
        { "080534", "hpack: truncated string (5 octets, 1 left in the block)" },
        { "0882ffff", "hpack: Huffman: padding longer than 7 bits" },
        { "080234ff", "hpack: status '4\u00ff' is not three digits" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void StatusOf_BadBlocks_FormatExceptionSaysWhy(string hex, string message)
    {
        var e = Assert.Throws<FormatException>(() => Hpack.StatusOf(new HpackDecoder().Decode(Convert.FromHexString(hex))));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void EncodeRequest_LiteralsWithoutIndexing_NoHuffman()
    {
        var block = Hpack.EncodeRequest([(":method", "CONNECT")]);

        Assert.Equal("00073A6D6574686F6407434F4E4E454354", Convert.ToHexString(block));
    }
}
