using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Federation;

/// <summary>The lifecycle coherence rules (issue 15 item 2): the worst-case revocation formula, overlap and the two flags.</summary>
public sealed class FederationCoherenceTests
{
    private static readonly DateTimeOffset Now = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.example.com");
    private static readonly FederationRefreshState Fetched = new() { LastSuccess = Now };

    private static FederationRelationship Relationship(TimeSpan maxStaleness) => new()
    {
        Endpoint = new BundleEndpoint
        {
            TrustDomain = Payments,
            Url = new Uri("https://payments.example.com/"),
            Profile = BundleEndpointProfile.HttpsWeb,
        },
        Name = "payments",
        Owner = "o@example.com",
        MaxStaleness = maxStaleness,
    };

    private static X509Certificate2 Ca(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=payments ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var withKey = request.CreateSelfSigned(notBefore, notAfter);
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }

    private static SpiffeBundle Bundle(TimeSpan? hint, params (int FromDays, int ToDays)[] spans) =>
        new(Payments, spans.Select(s => Ca(Now.AddDays(s.FromDays), Now.AddDays(s.ToDays))), [], 1, hint);

    [Theory]
    [InlineData(300, 60, 3600, 301)]     // hint 5m, floor 1m: polled every 5m, within 1h
    [InlineData(7200, 60, 3600, 7201)]   // hint 2h: a revocation takes up to 2h 1s
    [InlineData(10, 60, 3600, 61)]       // a hint under the floor is polled at the floor
    public void Compute_PollIntervalIsHintAtLeastFloor_WorstCaseAddsAgentPropagation(int hint, int floor, int maxStaleness, int worst)
    {
        var c = FederationCoherence.Compute(
            Relationship(TimeSpan.FromSeconds(maxStaleness)), Fetched, Bundle(TimeSpan.FromSeconds(hint), (-10, 20)), TimeSpan.FromSeconds(floor), Now);

        Assert.Equal(TimeSpan.FromSeconds(Math.Max(hint, floor)), c.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(worst), c.WorstCaseRevocation);
        Assert.Equal(worst > maxStaleness, c.Flags.Contains(FederationCoherence.SlowRevocation));
    }

    [Fact]
    public void Compute_NoHintPublished_DefaultFiveMinutes()
    {
        var c = FederationCoherence.Compute(Relationship(TimeSpan.FromMinutes(1)), Fetched, Bundle(null, (-1, 1)), TimeSpan.FromSeconds(1), Now);

        Assert.Null(c.PeerRefreshHint);
        Assert.Equal(TimeSpan.FromMinutes(5), c.PollInterval);
        Assert.Equal([FederationCoherence.SlowRevocation], c.Flags);
    }

    [Fact]
    public void Compute_AuthoritiesWithGap_NoRotationOverlap_OverlappingOnesNot()
    {
        var gap = FederationCoherence.Compute(Relationship(TimeSpan.FromHours(1)), Fetched, Bundle(TimeSpan.FromMinutes(1), (-20, -1), (0, 20)), TimeSpan.FromSeconds(1), Now);
        var overlap = FederationCoherence.Compute(Relationship(TimeSpan.FromHours(1)), Fetched, Bundle(TimeSpan.FromMinutes(1), (-20, 5), (0, 20)), TimeSpan.FromSeconds(1), Now);

        Assert.Equal(TimeSpan.FromDays(-1), gap.SmallestOverlap);
        Assert.Equal([FederationCoherence.NoRotationOverlap], gap.Flags);
        Assert.Equal(TimeSpan.FromDays(5), overlap.SmallestOverlap);
        Assert.Empty(overlap.Flags);
        Assert.Equal(TimeSpan.FromDays(20), overlap.OldestAuthorityAge);
        Assert.Equal(TimeSpan.FromDays(20), overlap.ShortestAuthorityLifetime);
    }

    [Fact]
    public void Compute_RotationWithoutOverlapSeenByTheRefresher_Flagged()
    {
        var state = Fetched with { RotationWithoutOverlapAt = Now.AddHours(-1) };

        var c = FederationCoherence.Compute(Relationship(TimeSpan.FromHours(1)), state, Bundle(TimeSpan.FromMinutes(1), (0, 20)), TimeSpan.FromSeconds(1), Now);

        Assert.Equal([FederationCoherence.NoRotationOverlap], c.Flags);
        Assert.Null(c.SmallestOverlap);
    }

    [Theory]
    [InlineData(30_000, false)]
    [InlineData(-30_000, false)]
    [InlineData(30_001, true)]
    [InlineData(-30_001, true)]
    public void Compute_ClockSkewBeyondTheJwtLeeway_Skew(long skewMs, bool flagged)
    {
        var state = Fetched with { ClockSkew = TimeSpan.FromMilliseconds(skewMs) };

        var c = FederationCoherence.Compute(Relationship(TimeSpan.FromHours(1)), state, Bundle(TimeSpan.FromMinutes(1), (-10, 20), (0, 30)), TimeSpan.FromSeconds(1), Now);

        Assert.Equal(flagged ? [FederationCoherence.Skew] : [], c.Flags);
        Assert.Equal(TimeSpan.FromMilliseconds(skewMs), c.ClockSkew);
    }

    [Fact]
    public void Compute_ClockSkewNeverMeasured_NoFlagNull()
    {
        var c = FederationCoherence.Compute(Relationship(TimeSpan.FromHours(1)), Fetched, Bundle(TimeSpan.FromMinutes(1), (-10, 20), (0, 30)), TimeSpan.FromSeconds(1), Now);

        Assert.Empty(c.Flags);
        Assert.Null(c.ClockSkew);
    }
}
