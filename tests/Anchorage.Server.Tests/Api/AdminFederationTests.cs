using System.Runtime.Versioning;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using FederationStatus = Anchorage.Protos.Admin.V1.FederationStatus;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Tests.Api;

/// <summary>The admin API's federation relationships: apply (validation), list, get, delete, refresh, and the status they answer.</summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AdminFederationTests : IAsyncLifetime
{
    private const string Payments = "payments.example.com";
    private static readonly TrustDomain PaymentsTd = TrustDomain.Parse(Payments);

    private readonly TestRefresher _refresher = new();
    private ApiTestServer _server = null!;

    private AdminApi.AdminApiClient Admin => _server.Admin;

    public async Task InitializeAsync()
    {
        _server = await ApiTestServer.StartAsync(configure: services => services.AddSingleton<IFederationRefresher>(sp =>
        {
            _refresher.Store = sp.GetRequiredService<IDataStore>();
            return _refresher;
        }));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static string CaPem(string td, int slot = 0) => TestAuthorities.Ca(td, slot: slot).ExportCertificatePem();

    /// <summary>A valid https_spiffe declaration with a PEM bootstrap bundle.</summary>
    private static FederatedTrustDomain Spiffe() => new()
    {
        TrustDomain = Payments,
        Name = "payments",
        Owner = "payments-platform@acme.corp",
        Url = "https://payments.example.com:8443/",
        Profile = "https_spiffe",
        EndpointSpiffeId = "spiffe://payments.example.com/anchorage/server",
        BootstrapBundle = CaPem(Payments),
        MaxStalenessSeconds = 1800,
    };

    /// <summary>A valid https_web declaration with extra roots.</summary>
    private static FederatedTrustDomain Web() => new()
    {
        TrustDomain = "web.example.net",
        Owner = "web-team@acme.corp",
        Url = "https://bundles.example.net/web",
        Profile = "https_web",
        CaBundle = CaPem("private-ca.example.net"),
        MaxStalenessSeconds = 600,
    };

    private Task<FederationStatus> ApplyAsync(FederatedTrustDomain spec) =>
        Admin.ApplyFederationAsync(new ApplyFederationRequest { Relationship = spec }).ResponseAsync;

    public static TheoryData<string, Func<FederatedTrustDomain>, string> Invalid => new()
    {
        { "no trust domain", () => Spiffe().With(s => s.TrustDomain = ""), "trustDomain is required" },
        { "bad trust domain", () => Spiffe().With(s => s.TrustDomain = "Pay Ments"), "trustDomain \"Pay Ments\": " },
        { "own trust domain", () => Web().With(s => s.TrustDomain = "acme.corp"), "trustDomain \"acme.corp\" is the server's own trust domain" },
        { "no owner", () => Spiffe().With(s => s.Owner = " "), "owner is required" },
        { "no url", () => Spiffe().With(s => s.Url = ""), "url is required" },
        { "relative url", () => Spiffe().With(s => s.Url = "payments.example.com/bundle"), "url \"payments.example.com/bundle\" is not an absolute URL" },
        { "http url", () => Spiffe().With(s => s.Url = "http://payments.example.com/"), "url \"http://payments.example.com/\" must use https" },
        { "user info", () => Spiffe().With(s => s.Url = "https://u:p@payments.example.com/"), "url \"https://u:p@payments.example.com/\" must not carry user info" },
        { "no profile", () => Spiffe().With(s => s.Profile = ""), "profile is required (https_web or https_spiffe)" },
        { "unknown profile", () => Spiffe().With(s => s.Profile = "HTTPS_SPIFFE"), "profile \"HTTPS_SPIFFE\" is not https_web or https_spiffe" },
        { "spiffe without endpoint id", () => Spiffe().With(s => s.EndpointSpiffeId = ""), "endpointSpiffeId is required for profile https_spiffe" },
        { "endpoint id unparsable", () => Spiffe().With(s => s.EndpointSpiffeId = "payments"), "endpointSpiffeId \"payments\": " },
        {
            "endpoint id in another trust domain", () => Spiffe().With(s => s.EndpointSpiffeId = "spiffe://acme.corp/anchorage/server"),
            "endpointSpiffeId \"spiffe://acme.corp/anchorage/server\" is not in trust domain \"payments.example.com\""
        },
        { "spiffe with ca bundle", () => Spiffe().With(s => s.CaBundle = CaPem("x.example")), "caBundle is only for profile https_web" },
        { "bootstrap not a bundle", () => Spiffe().With(s => s.BootstrapBundle = "{\"keys\": 7}"), "bootstrapBundle: " },
        {
            "spiffe without bootstrap and nothing stored", () => Spiffe().With(s => s.BootstrapBundle = ""),
            "bootstrapBundle is required for profile https_spiffe: no bundle of \"payments.example.com\" is stored yet"
        },
        { "web with endpoint id", () => Web().With(s => s.EndpointSpiffeId = "spiffe://web.example.net/x"), "endpointSpiffeId is only for profile https_spiffe" },
        { "web with bootstrap", () => Web().With(s => s.BootstrapBundle = CaPem("web.example.net")), "bootstrapBundle is only for profile https_spiffe" },
        { "web ca bundle not pem", () => Web().With(s => s.CaBundle = "roots"), "caBundle holds no PEM certificates" },
        {
            "web ca bundle broken pem", () => Web().With(s => s.CaBundle = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            "caBundle holds a PEM certificate that does not parse"
        },
        { "zero staleness", () => Spiffe().With(s => s.MaxStalenessSeconds = 0), "maxStalenessSeconds must be positive" },
        { "staleness over a year", () => Spiffe().With(s => s.MaxStalenessSeconds = 31536001), "maxStalenessSeconds must be at most 31536000 (one year)" },
        {
            "several problems", () => Web().With(s => { s.Owner = ""; s.Url = "ftp://x/"; }),
            "owner is required; url \"ftp://x/\" must use https"
        },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task ApplyFederation_Invalid_InvalidArgumentAndNothingStored(string defect, Func<FederatedTrustDomain> spec, string message)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ApplyAsync(spec()));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        if (message.EndsWith(": ", StringComparison.Ordinal))
        {
            Assert.StartsWith(message, e.Status.Detail, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(message, e.Status.Detail);
        }

        Assert.True(defect.Length > 0);
        Assert.Empty(await _server.Store.ListRelationshipsAsync(CancellationToken.None));
        Assert.Null(await _server.Store.GetBundleAsync(PaymentsTd, CancellationToken.None));
    }

    [Fact]
    public async Task ApplyFederation_ValidSpiffeAndWeb_StoredWithStatusAndBootstrapBundle()
    {
        var spiffe = await ApplyAsync(Spiffe());
        var web = await ApplyAsync(Web());

        Assert.Equal(Payments, spiffe.TrustDomain);
        Assert.Equal("payments", spiffe.Name);
        Assert.Equal("payments-platform@acme.corp", spiffe.Owner);
        Assert.Equal("https_spiffe", spiffe.Profile);
        Assert.Equal("https://payments.example.com:8443/", spiffe.Url);
        Assert.Equal("spiffe://payments.example.com/anchorage/server", spiffe.EndpointSpiffeId);
        Assert.Equal(1800, spiffe.MaxStalenessSeconds);
        Assert.Equal(0UL, spiffe.Sequence);
        Assert.Equal(0, spiffe.LastRefresh);
        Assert.Equal(0, spiffe.FederatingEntries);
        Assert.Equal(TestAuthorities.Ca(Payments).NotAfter, DateTimeOffset.FromUnixTimeSeconds(spiffe.EarliestAnchorExpiry).UtcDateTime.ToLocalTime());
        Assert.Equal(["unused", "never-fetched"], spiffe.Flags);
        Assert.True(spiffe.CreatedAt > 0);
        var stored = await _server.Store.GetBundleAsync(PaymentsTd, CancellationToken.None);
        Assert.Equal(TestAuthorities.Ca(Payments).RawData, Assert.Single(stored!.Bundle.X509Authorities).RawData);

        Assert.Equal("web.example.net", web.Name);
        Assert.Equal("https_web", web.Profile);
        Assert.Equal("", web.EndpointSpiffeId);
        Assert.True(web.HasCaBundle);
        Assert.Equal(0, web.EarliestAnchorExpiry);
        Assert.Equal(["unused", "never-fetched"], web.Flags);
    }

    [Fact]
    public async Task ApplyFederation_AgainWithOtherBootstrap_StoredBundleKeptDeclarationReplaced()
    {
        await ApplyAsync(Spiffe());

        // A bundle of the domain is stored now: the bootstrap is optional and never replaces it.
        var again = await ApplyAsync(Spiffe().With(s => { s.Owner = "new-owner@acme.corp"; s.BootstrapBundle = CaPem(Payments, slot: 1); }));
        var withoutBootstrap = await ApplyAsync(Spiffe().With(s => s.BootstrapBundle = ""));

        Assert.Equal("new-owner@acme.corp", again.Owner);
        Assert.Equal("payments-platform@acme.corp", withoutBootstrap.Owner);
        var stored = await _server.Store.GetBundleAsync(PaymentsTd, CancellationToken.None);
        Assert.Equal(TestAuthorities.Ca(Payments).RawData, Assert.Single(stored!.Bundle.X509Authorities).RawData);
        Assert.Single(await _server.Store.ListRelationshipsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ApplyFederation_SpiffeJsonBootstrapWithSequence_SequenceReported()
    {
        var json = new Spiffe.Bundles.SpiffeBundle(PaymentsTd, [TestAuthorities.Ca(Payments)], [], 41, TimeSpan.FromMinutes(5)).ToUtf8Json();

        var status = await ApplyAsync(Spiffe().With(s => s.BootstrapBundle = System.Text.Encoding.UTF8.GetString(json)));

        Assert.Equal(41UL, status.Sequence);
    }

    [Fact]
    public async Task GetAndList_EntriesFederate_CountedAndNotUnused()
    {
        await ApplyAsync(Spiffe());
        await ApplyAsync(Web());
        var entry = new Common.Entry
        {
            SpiffeId = "spiffe://acme.corp/web",
            ParentId = "spiffe://acme.corp/anchorage/agent/x",
            Selectors = { new Common.Selector { Type = "unix", Value = "uid:1000" } },
            FederatesWith = { Payments },
        };
        var created = await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { entry } });
        Assert.Equal(0, created.Results[0].ErrorCode);

        var got = await Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = Payments });
        var list = await Admin.ListFederationsAsync(new ListFederationsRequest());

        Assert.Equal(1, got.FederatingEntries);
        Assert.Equal(["never-fetched"], got.Flags);
        Assert.Equal([Payments, "web.example.net"], list.Federations.Select(f => f.TrustDomain));
        Assert.Equal(got, list.Federations[0]);
        Assert.Equal(0, list.Federations[1].FederatingEntries);
    }

    [Fact]
    public async Task GetFederation_Absent_NotFound()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = Payments }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("no federation relationship with trust domain \"payments.example.com\"", e.Status.Detail);
    }

    [Fact]
    public async Task DeleteFederation_Existing_RelationshipAndBundleGone_ThenNotFound()
    {
        await ApplyAsync(Spiffe());

        await Admin.DeleteFederationAsync(new DeleteFederationRequest { TrustDomain = Payments });

        Assert.Null(await _server.Store.GetBundleAsync(PaymentsTd, CancellationToken.None));
        Assert.Empty((await Admin.ListFederationsAsync(new ListFederationsRequest())).Federations);
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.DeleteFederationAsync(new DeleteFederationRequest { TrustDomain = Payments }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("no federation relationship with trust domain \"payments.example.com\"", e.Status.Detail);
    }

    [Fact]
    public async Task RefreshFederation_Existing_CallsRefresherAndAnswersNewState()
    {
        await ApplyAsync(Spiffe());

        var status = await Admin.RefreshFederationAsync(new RefreshFederationRequest { TrustDomain = Payments });

        Assert.Equal([PaymentsTd], _refresher.Calls);
        Assert.True(status.LastRefresh > 0);
        Assert.Equal(["unused"], status.Flags);
    }

    [Fact]
    public async Task RefreshFederation_Absent_NotFoundWithoutCallingRefresher()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.RefreshFederationAsync(new RefreshFederationRequest { TrustDomain = Payments }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Empty(_refresher.Calls);
    }

    [Fact]
    public async Task RefreshFederation_NoRefresherRegistered_Unavailable()
    {
        await using var bare = await ApiTestServer.StartAsync();
        await bare.Admin.ApplyFederationAsync(new ApplyFederationRequest { Relationship = Web() });

        var e = await Assert.ThrowsAsync<RpcException>(
            () => bare.Admin.RefreshFederationAsync(new RefreshFederationRequest { TrustDomain = "web.example.net" }).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Equal("no refresher is running", e.Status.Detail);
    }

    /// <summary>Records calls and marks the fetch successful now, as a real refresher would after an accepted bundle.</summary>
    private sealed class TestRefresher : IFederationRefresher
    {
        public IDataStore Store { get; set; } = null!;

        public List<TrustDomain> Calls { get; } = [];

        public async Task<FederationRefreshState> RefreshNowAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
        {
            Calls.Add(trustDomain);
            var state = new FederationRefreshState { LastSuccess = DateTimeOffset.UtcNow, LastAttempt = DateTimeOffset.UtcNow };
            await Store.UpdateRefreshStateAsync(trustDomain, state, cancellationToken);
            return state;
        }
    }
}

internal static class FederatedTrustDomainExtensions
{
    public static FederatedTrustDomain With(this FederatedTrustDomain spec, Action<FederatedTrustDomain> change)
    {
        var copy = spec.Clone();
        change(copy);
        return copy;
    }
}
