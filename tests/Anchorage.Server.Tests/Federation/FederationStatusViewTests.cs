using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Federation;

public sealed class FederationStatusViewTests
{
    private static readonly DateTimeOffset Created = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.example.com");

    private readonly FakeTimeProvider _clock = new(Created);

    private static FederationRelationship Relationship() => new()
    {
        Endpoint = new BundleEndpoint
        {
            TrustDomain = Payments,
            Url = new Uri("https://payments.example.com:8443/"),
            Profile = BundleEndpointProfile.HttpsSpiffe,
            EndpointSpiffeId = SpiffeId.Parse("spiffe://payments.example.com/anchorage/server"),
        },
        Name = "payments",
        Owner = "payments-platform@example.com",
        MaxStaleness = TimeSpan.FromMinutes(30),
        CreatedAt = Created,
        UpdatedAt = Created,
    };

    private static X509Certificate2 Ca(DateTimeOffset notAfter) => Ca(Created.AddYears(-1), notAfter);

    private static X509Certificate2 Ca(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=payments ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var withKey = request.CreateSelfSigned(notBefore, notAfter);
        return X509CertificateLoader.LoadCertificate(withKey.RawData);
    }

    private static SpiffeBundle Bundle(ulong? sequence, params DateTimeOffset[] expiries) =>
        new(Payments, expiries.Select(Ca), [], sequence, null);

    private FederationStatus Compute(FederationRefreshState? state = null, SpiffeBundle? bundle = null, long entries = 1) =>
        FederationStatusView.Compute(Relationship(), state ?? new FederationRefreshState { LastSuccess = _clock.GetUtcNow() }, bundle, entries, _clock.GetUtcNow());

    [Fact]
    public void Compute_FreshUsedFarFromExpiry_NoFlags()
    {
        var status = Compute(bundle: Bundle(7, Created.AddDays(30)));

        Assert.Empty(status.Flags);
        Assert.Equal(7UL, status.Sequence);
        Assert.Equal(Created.AddDays(30), status.EarliestAnchorExpiry);
        Assert.Equal(1, status.FederatingEntries);
    }

    [Fact]
    public void Compute_LastSuccessExactlyMaxStalenessAgo_NotStale_OneMsLater_Stale()
    {
        var state = new FederationRefreshState { LastSuccess = Created };
        _clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Empty(Compute(state).Flags);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([FederationStatusView.Stale], Compute(state).Flags);
    }

    [Fact]
    public void Compute_NeverFetched_NeverFetchedThenStaleAfterMaxStalenessSinceCreation()
    {
        var never = new FederationRefreshState { LastError = "connection refused", LastErrorAt = Created, ConsecutiveFailures = 1 };
        Assert.Equal([FederationStatusView.NeverFetched], Compute(never).Flags);

        _clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal([FederationStatusView.Stale, FederationStatusView.NeverFetched], Compute(never).Flags);
    }

    [Fact]
    public void Compute_NoEntryFederates_Unused()
    {
        Assert.Equal([FederationStatusView.Unused], Compute(entries: 0).Flags);
        Assert.Empty(Compute(entries: 2).Flags);
    }

    [Fact]
    public void Compute_NewestAnchorWithin7Days_Expiring_JustOutside_NotExpiring()
    {
        var edge = Bundle(1, Created.AddDays(2), Created.AddDays(7));
        var outside = Bundle(1, Created.AddDays(2), Created.AddDays(7).AddSeconds(1));

        var expiring = Compute(bundle: edge);
        Assert.Equal([FederationStatusView.Expiring], expiring.Flags);
        Assert.Equal(Created.AddDays(2), expiring.EarliestAnchorExpiry);
        Assert.Empty(Compute(bundle: outside).Flags);
    }

    [Fact]
    public void Compute_OldAnchorEndingWhileANewerIsPublished_NotExpiring_EarliestStillReported()
    {
        var rotating = Compute(bundle: Bundle(1, Created.AddDays(60), Created.AddDays(1)));

        Assert.Empty(rotating.Flags);
        Assert.Equal(Created.AddDays(1), rotating.EarliestAnchorExpiry);
    }

    [Fact]
    public void Compute_ShortLivedAuthority_WindowIsAThirdOfItsLifetime()
    {
        // A 24-hour authority: the window is 8 hours, not 7 days (else every 24-hour CA is flagged).
        var fresh = new SpiffeBundle(Payments, [Ca(Created.AddHours(-12), Created.AddHours(12))], [], 1, null);
        var ending = new SpiffeBundle(Payments, [Ca(Created.AddHours(-17), Created.AddHours(7))], [], 1, null);

        Assert.Empty(Compute(bundle: fresh).Flags);
        Assert.Equal([FederationStatusView.Expiring], Compute(bundle: ending).Flags);
    }

    [Fact]
    public void Compute_AnchorAlreadyExpired_Expiring()
    {
        Assert.Equal([FederationStatusView.Expiring], Compute(bundle: Bundle(1, Created.AddDays(-1))).Flags);
    }

    [Fact]
    public void Compute_NoBundleOrNoX509Authorities_SequenceZeroNoExpiry()
    {
        var none = Compute();
        Assert.Equal(0UL, none.Sequence);
        Assert.Null(none.EarliestAnchorExpiry);

        var empty = Compute(bundle: Bundle(null));
        Assert.Equal(0UL, empty.Sequence);
        Assert.Null(empty.EarliestAnchorExpiry);
        Assert.Empty(empty.Flags);
    }

    [Fact]
    public void Compute_EverythingWrong_AllFlagsInDocumentedOrder()
    {
        _clock.Advance(TimeSpan.FromHours(1));

        var status = Compute(new FederationRefreshState(), Bundle(1, Created.AddDays(1)), entries: 0);

        Assert.Equal(["stale", "unused", "expiring", "never-fetched"], status.Flags);
    }

    // Observed use (issue 15 item 3): unused also means no allowed connection within governance.unusedAfter.
    private static readonly TimeSpan UnusedAfter = TimeSpan.FromDays(30);

    private static FederationUsage Use(long allowed, long denied, DateTimeOffset? lastAllowed, DateTimeOffset? lastDenied, string direction = FederationUsage.Outbound) =>
        new(Payments, "spiffe://example.org/anchorage/agent/join_token/a1", direction, allowed, denied, lastAllowed, lastDenied, lastAllowed ?? lastDenied ?? Created);

    private FederationStatus ComputeWithUsage(IReadOnlyList<FederationUsage> usage, long entries = 1) =>
        FederationStatusView.Compute(Relationship(), new FederationRefreshState { LastSuccess = _clock.GetUtcNow() }, null, entries, _clock.GetUtcNow(), usage: usage, unusedAfter: UnusedAfter);

    [Fact]
    public void Compute_NoTrafficEver_UnusedExactlyUnusedAfterSinceCreation_NotYet_OneMsLater_UnusedWithReason()
    {
        _clock.Advance(UnusedAfter);
        var edge = ComputeWithUsage([]);
        Assert.Empty(edge.Flags);
        Assert.Null(edge.UnusedReason);
        Assert.Equal(UnusedAfter, edge.UnusedAfter);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        var unused = ComputeWithUsage([]);

        Assert.Equal([FederationStatusView.Unused], unused.Flags);
        Assert.Equal("no connection seen since it was created (governance.unusedAfter 30d)", unused.UnusedReason);
    }

    [Fact]
    public void Compute_LastAllowedConnection_UnusedOnlyAfterUnusedAfterFromIt_ReasonNamesIt()
    {
        var seen = Created.AddDays(10);
        IReadOnlyList<FederationUsage> usage = [Use(4, 0, seen, null), Use(1, 0, Created.AddDays(2), null, FederationUsage.Inbound)];
        _clock.Advance(TimeSpan.FromDays(40));
        Assert.Empty(ComputeWithUsage(usage).Flags);

        _clock.Advance(TimeSpan.FromSeconds(1));
        var unused = ComputeWithUsage(usage);

        Assert.Equal([FederationStatusView.Unused], unused.Flags);
        Assert.Equal("no connection since 2026-05-11T12:00:00Z (governance.unusedAfter 30d)", unused.UnusedReason);
        Assert.Equal(usage, unused.Usage);
    }

    [Fact]
    public void Compute_OnlyDeniedAttempts_NotUse_Unused_AnAllowedOneOfTheSameAge_NotUnused()
    {
        _clock.Advance(TimeSpan.FromDays(31));
        var recent = _clock.GetUtcNow().AddHours(-1);

        Assert.Equal("no connection seen since it was created (governance.unusedAfter 30d)", ComputeWithUsage([Use(0, 9, null, recent)]).UnusedReason);
        Assert.Empty(ComputeWithUsage([Use(1, 9, recent, recent)]).Flags);
    }

    [Fact]
    public void Compute_NoEntryFederatesDespiteTraffic_UnusedWithThatReason()
    {
        var status = ComputeWithUsage([Use(1, 0, Created, null)], entries: 0);

        Assert.Equal([FederationStatusView.Unused], status.Flags);
        Assert.Equal("no entry federates with it", status.UnusedReason);
    }

    [Fact]
    public void Compute_UsageNotGiven_OnlyEntriesCount_NoUnusedAfter()
    {
        _clock.Advance(TimeSpan.FromDays(365));

        var status = Compute(new FederationRefreshState { LastSuccess = _clock.GetUtcNow() });

        Assert.Empty(status.Flags);
        Assert.Null(status.UnusedAfter);
        Assert.Empty(status.Usage);
    }
}
