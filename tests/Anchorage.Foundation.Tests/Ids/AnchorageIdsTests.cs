using Anchorage.Foundation.Ids;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Foundation.Tests.Ids;

public sealed class AnchorageIdsTests
{
    private static readonly TrustDomain Acme = TrustDomain.Parse("acme.corp");

    [Fact]
    public void ServerId_TrustDomain_IsTheReservedServerPath()
    {
        Assert.Equal("spiffe://acme.corp/anchorage/server", AnchorageIds.ServerId(Acme).ToString());
    }

    [Fact]
    public void JoinTokenAgentId_TokenId_IsUnderTheAgentPath()
    {
        var id = AnchorageIds.JoinTokenAgentId(Acme, "abc123");

        Assert.Equal("spiffe://acme.corp/anchorage/agent/join_token/abc123", id.ToString());
        Assert.StartsWith(AnchorageIds.AgentPathPrefix, id.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void JoinTokenAgentId_TokenIdWithSlashDotDot_Throws()
    {
        Assert.Throws<FormatException>(() => AnchorageIds.JoinTokenAgentId(Acme, "../server"));
    }

    [Theory]
    [InlineData("spiffe://acme.corp/anchorage/server", true)]
    [InlineData("spiffe://acme.corp/anchorage/agent/join_token/x", true)]
    [InlineData("spiffe://acme.corp/anchorage", false)]
    [InlineData("spiffe://acme.corp/anchorageserver", false)]
    [InlineData("spiffe://acme.corp/web/anchorage/server", false)]
    public void IsReserved_Path_OnlyUnderTheAnchoragePrefix(string id, bool reserved)
    {
        Assert.Equal(reserved, AnchorageIds.IsReserved(SpiffeId.Parse(id)));
    }
}
