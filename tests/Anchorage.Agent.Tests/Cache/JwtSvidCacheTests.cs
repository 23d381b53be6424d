using System.Security.Cryptography;
using Anchorage.Agent.Cache.Internal;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Cache;

/// <summary>Issue 11, item 2: the agent's JWT-SVID cache cannot grow with caller-chosen audiences.</summary>
public sealed class JwtSvidCacheTests
{
    private static readonly SpiffeId Id = SpiffeId.Parse("spiffe://example.org/workload");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private readonly JwtSigningKey _key = new("k1", ECDsa.Create(ECCurve.NamedCurves.nistP256));

    [Fact]
    public void Add_ThousandsOfUniqueAudiences_HoldsAtMostCapacityAndKeepsTheRecentlyUsed()
    {
        var cache = new JwtSvidCache(capacity: 100, _time);
        cache.Add("e1", "kept", Mint("kept"));

        for (var i = 0; i < 5000; i++)
        {
            cache.Add("e1", "aud-" + i, Mint("aud-" + i));
            if (i % 50 == 0)
            {
                // Used again and again: never the least recently used.
                Assert.NotNull(cache.TryGet("e1", "kept"));
            }
        }

        Assert.Equal(100, cache.Count);
        Assert.NotNull(cache.TryGet("e1", "kept"));
        Assert.NotNull(cache.TryGet("e1", "aud-4999"));
        Assert.Null(cache.TryGet("e1", "aud-0"));
    }

    [Fact]
    public void TryGet_PastHalfTheLifetime_NullAndDropped()
    {
        var cache = new JwtSvidCache(capacity: 10, _time);
        cache.Add("e1", "payments", Mint("payments", TimeSpan.FromMinutes(5)));

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.NotNull(cache.TryGet("e1", "payments"));
        _time.Advance(TimeSpan.FromSeconds(31));

        Assert.Null(cache.TryGet("e1", "payments"));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Add_Full_ExpiredTokensGoBeforeValidOnes()
    {
        var cache = new JwtSvidCache(capacity: 3, _time);
        cache.Add("e1", "short-1", Mint("short-1", TimeSpan.FromMinutes(1)));
        cache.Add("e1", "short-2", Mint("short-2", TimeSpan.FromMinutes(1)));
        cache.Add("e1", "long", Mint("long", TimeSpan.FromHours(1)));
        _time.Advance(TimeSpan.FromMinutes(1));

        // "long" is the least recently used, but the two expired ones go first.
        cache.Add("e1", "new-1", Mint("new-1", TimeSpan.FromHours(1)));
        cache.Add("e1", "new-2", Mint("new-2", TimeSpan.FromHours(1)));

        Assert.Equal(3, cache.Count);
        Assert.NotNull(cache.TryGet("e1", "long"));
    }

    [Fact]
    public void RemoveEntries_RemovedEntry_ItsTokensGoOthersStay()
    {
        var cache = new JwtSvidCache(capacity: 10, _time);
        cache.Add("gone", "a", Mint("a"));
        cache.Add("kept", "a", Mint("a"));

        cache.RemoveEntries(id => id == "kept");

        Assert.Null(cache.TryGet("gone", "a"));
        Assert.NotNull(cache.TryGet("kept", "a"));
    }

    private JwtSvid Mint(string audience, TimeSpan? life = null) => JwtSvid.ParseInsecure(
        JwtSvid.Mint(Id, [audience], _time.GetUtcNow() + (life ?? TimeSpan.FromMinutes(5)), _key, _time), audience, _time);
}
