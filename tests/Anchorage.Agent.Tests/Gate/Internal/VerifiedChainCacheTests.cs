using Anchorage.Agent.Gate.Internal;
using Anchorage.Testing.X509;

namespace Anchorage.Agent.Tests.Gate.Internal;

/// <summary>The inbound gate's store of verified peer chains, used to verify resumed sessions again.</summary>
public sealed class VerifiedChainCacheTests
{
    private static readonly TestCa Intermediate = TestCa.CreateRoot("acme.corp").CreateIntermediate();

    [Fact]
    public void Find_LeafAdded_WholeChain_OtherLeafNothing()
    {
        var cache = new VerifiedChainCache(4, TestClock.Create());
        var added = Intermediate.IssueLeaf(new() { Path = "/a" });
        var other = Intermediate.IssueLeaf(new() { Path = "/b" });

        cache.Add(added.Chain);

        Assert.Equal(added.Chain, cache.Find(added.Leaf));
        Assert.Null(cache.Find(other.Leaf));
    }

    [Fact]
    public void Add_Full_LeastRecentlyUsedDropped()
    {
        var cache = new VerifiedChainCache(2, TestClock.Create());
        var a = Intermediate.IssueLeaf(new() { Path = "/a" });
        var b = Intermediate.IssueLeaf(new() { Path = "/b" });
        var c = Intermediate.IssueLeaf(new() { Path = "/c" });
        cache.Add(a.Chain);
        cache.Add(b.Chain);
        Assert.NotNull(cache.Find(a.Leaf));

        cache.Add(c.Chain);

        Assert.Equal(2, cache.Count);
        Assert.NotNull(cache.Find(a.Leaf));
        Assert.Null(cache.Find(b.Leaf));
        Assert.NotNull(cache.Find(c.Leaf));
    }

    [Fact]
    public void Add_Full_ExpiredLeafDroppedBeforeLeastRecentlyUsed()
    {
        var clock = TestClock.Create();
        var cache = new VerifiedChainCache(2, clock);
        var a = Intermediate.IssueLeaf(new() { Path = "/a" });
        var brief = Intermediate.IssueLeaf(new() { Path = "/brief", NotAfter = TestClock.Now.AddMinutes(10) });
        var c = Intermediate.IssueLeaf(new() { Path = "/c" });
        cache.Add(a.Chain);
        cache.Add(brief.Chain);
        clock.Advance(TimeSpan.FromMinutes(30));

        cache.Add(c.Chain);

        Assert.Equal(2, cache.Count);
        Assert.NotNull(cache.Find(a.Leaf));
        Assert.Null(cache.Find(brief.Leaf));
        Assert.NotNull(cache.Find(c.Leaf));
    }
}
