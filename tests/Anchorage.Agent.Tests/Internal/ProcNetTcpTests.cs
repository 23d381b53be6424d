using System.Net;
using Anchorage.Agent.Internal;

namespace Anchorage.Agent.Tests.Internal;

/// <summary>The /proc/net/tcp{,6} parser on sample tables as a little-endian kernel prints them (proc(5)).</summary>
public sealed class ProcNetTcpTests
{
    // 127.0.0.1:8080 listening; a client 127.0.0.1:50000 connected to it (both ends); a TIME_WAIT row (inode 0).
    private const string Tcp4 =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21346 1 0000000000000000 100 0 0 10 0\n" +
        "   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 88231 1 0000000000000000 20 4 30 10 -1\n" +
        "   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 88232 1 0000000000000000 20 4 30 10 -1\n" +
        "   3: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00000F5B 00000000     0        0 0 3 0000000000000000\n";

    // A dual-stack client (::ffff:127.0.0.1:50002) and an IPv6 client [::1]:50001, both to port 8080.
    private const string Tcp6 =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
        "   0: 0000000000000000FFFF00000100007F:C352 0000000000000000FFFF00000100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 99001 1 0000000000000000 20 4 30 10 -1\n" +
        "   1: 00000000000000000000000001000000:C351 00000000000000000000000001000000:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 99002 1 0000000000000000 20 4 30 10 -1\n";

    private static readonly IPEndPoint Server4 = new(IPAddress.Loopback, 8080);

    public ProcNetTcpTests()
    {
        Assert.True(BitConverter.IsLittleEndian, "the sample tables are as a little-endian kernel prints them");
    }

    [Fact]
    public void FindInode_ClientEndOfAConnection_ReturnsTheClientSocket()
    {
        Assert.Equal(88231UL, ProcNetTcp.FindInode(Tcp4, new IPEndPoint(IPAddress.Loopback, 50000), Server4));
    }

    [Fact]
    public void FindInode_EndsSwapped_ReturnsTheServerSideSocket()
    {
        Assert.Equal(88232UL, ProcNetTcp.FindInode(Tcp4, Server4, new IPEndPoint(IPAddress.Loopback, 50000)));
    }

    [Fact]
    public void FindInode_TimeWaitRowWithInodeZero_Null()
    {
        // Positive control on the same table: the established client row is found.
        Assert.NotNull(ProcNetTcp.FindInode(Tcp4, new IPEndPoint(IPAddress.Loopback, 50000), Server4));
        Assert.Null(ProcNetTcp.FindInode(Tcp4, new IPEndPoint(IPAddress.Loopback, 50001), Server4));
    }

    [Fact]
    public void FindInode_NoSuchConnection_Null()
    {
        Assert.Null(ProcNetTcp.FindInode(Tcp4, new IPEndPoint(IPAddress.Loopback, 50000), new IPEndPoint(IPAddress.Loopback, 8081)));
    }

    [Fact]
    public void FindInode_Ipv6Loopback_ReturnsTheSocket()
    {
        Assert.Equal(99002UL, ProcNetTcp.FindInode(Tcp6, new IPEndPoint(IPAddress.IPv6Loopback, 50001), new IPEndPoint(IPAddress.IPv6Loopback, 8080)));
    }

    [Fact]
    public void FindInode_Ipv4MappedRowAndIpv4Endpoints_ComparesEqual()
    {
        Assert.Equal(99001UL, ProcNetTcp.FindInode(Tcp6, new IPEndPoint(IPAddress.Loopback, 50002), Server4));
        Assert.Equal(99001UL, ProcNetTcp.FindInode(Tcp6, new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 50002), new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 8080)));
    }

    [Fact]
    public void TryParseRow_EstablishedRow_ReadsEveryField()
    {
        var line = Tcp4.Split('\n')[2];

        Assert.True(ProcNetTcp.TryParseRow(line, out var row));

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 50000), row.Local);
        Assert.Equal(Server4, row.Remote);
        Assert.Equal(1, row.State);
        Assert.Equal(1000U, row.Uid);
        Assert.Equal(88231UL, row.Inode);
    }

    [Theory]
    [InlineData("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode")]
    [InlineData("")]
    [InlineData("   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0")]
    [InlineData("   1: 0100007:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 88231 1")]
    [InlineData("   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 x8231 1")]
    [InlineData("   1: 0100007F:C3500 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 88231 1")]
    public void TryParseRow_HeaderOrMalformed_False(string line)
    {
        Assert.False(ProcNetTcp.TryParseRow(line, out _));
    }
}
