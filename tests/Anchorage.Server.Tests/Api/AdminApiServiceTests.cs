using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Google.Protobuf;
using Grpc.Core;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Tests.Api;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AdminApiServiceTests : IAsyncLifetime
{
    private ApiTestServer _server = null!;

    private AdminApi.AdminApiClient Admin => _server.Admin;

    public async Task InitializeAsync() => _server = await ApiTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CreateEntries_ValidInvalidAndDuplicate_EachResultAlone()
    {
        var request = new CreateEntriesRequest();
        request.Entries.Add(Entry("/web", "/agent-1"));
        request.Entries.Add(Entry("/anchorage/sneaky", "/agent-1"));
        request.Entries.Add(Entry("/web", "/agent-1"));

        var response = await Admin.CreateEntriesAsync(request);

        Assert.Equal(0, response.Results[0].ErrorCode);
        Assert.Equal("spiffe://acme.corp/web", response.Results[0].Entry.SpiffeId);
        Assert.Matches("^[0-9a-f]{32}$", response.Results[0].Entry.Id);
        Assert.True(response.Results[0].Entry.RevisionNumber > 0);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Results[1].ErrorCode);
        Assert.Equal(
            "invalid registration entry: spiffeId: \"spiffe://acme.corp/anchorage/sneaky\": paths under /anchorage/ are reserved for the server and its agents",
            response.Results[1].Error);
        Assert.Equal((int)StatusCode.AlreadyExists, response.Results[2].ErrorCode);
        Assert.Equal($"an entry with the same spiffe id, parent id and selectors exists: {response.Results[0].Entry.Id}", response.Results[2].Error);
    }

    [Fact]
    public async Task CreateEntries_UnparsableIds_InvalidArgumentNamingTheFields()
    {
        var entry = Entry("/web", "/agent-1");
        entry.SpiffeId = "http://acme.corp/web";
        entry.FederatesWith.Add("Not A Domain");

        var result = (await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { entry } })).Results.Single();

        Assert.Equal((int)StatusCode.InvalidArgument, result.ErrorCode);
        Assert.Equal(
            "invalid registration entry: spiffeId: \"http://acme.corp/web\": scheme must be \"spiffe\" followed by \"://\"; federatesWith[0]: \"Not A Domain\" is not a trust domain",
            result.Error);
    }

    [Fact]
    public async Task GetEntry_CreatedAndUnknown_ReturnsItOrNotFound()
    {
        var created = await CreateAsync(Entry("/web", "/agent-1"));

        var got = await Admin.GetEntryAsync(new GetEntryRequest { Id = created.Id });
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.GetEntryAsync(new GetEntryRequest { Id = "nope" }).ResponseAsync);

        Assert.Equal(created, got);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("entry \"nope\" not found", e.Status.Detail);
    }

    [Fact]
    public async Task GetEntry_EmptyId_InvalidArgument()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.GetEntryAsync(new GetEntryRequest()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("id is required", e.Status.Detail);
    }

    [Fact]
    public async Task UpdateEntry_ExistingAndUnknown_NewRevisionOrNotFound()
    {
        var created = await CreateAsync(Entry("/web", "/agent-1"));
        var changed = created.Clone();
        changed.DnsNames.Add("web.acme.corp");
        var unknown = created.Clone();
        unknown.Id = "gone";

        var updated = await Admin.UpdateEntryAsync(new UpdateEntryRequest { Entry = changed });
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.UpdateEntryAsync(new UpdateEntryRequest { Entry = unknown }).ResponseAsync);

        Assert.Equal(["web.acme.corp"], updated.DnsNames);
        Assert.True(updated.RevisionNumber > created.RevisionNumber);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("entry \"gone\" not found", e.Status.Detail);
    }

    [Fact]
    public async Task DeleteEntry_Twice_SecondIsNotFound()
    {
        var created = await CreateAsync(Entry("/web", "/agent-1"));

        await Admin.DeleteEntryAsync(new DeleteEntryRequest { Id = created.Id });
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.DeleteEntryAsync(new DeleteEntryRequest { Id = created.Id }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal($"entry \"{created.Id}\" not found", e.Status.Detail);
    }

    [Fact]
    public async Task ListEntries_FilterAndPages_CountMatches()
    {
        for (var i = 0; i < 5; i++)
        {
            await CreateAsync(Entry($"/web-{i}", "/agent-1"));
        }

        await CreateAsync(Entry("/db", "/agent-2"));

        var first = await Admin.ListEntriesAsync(new ListEntriesRequest { ParentId = "spiffe://acme.corp/agent-1", PageSize = 3 });
        var second = await Admin.ListEntriesAsync(new ListEntriesRequest { ParentId = "spiffe://acme.corp/agent-1", PageSize = 3, PageToken = first.NextPageToken });
        var count = await Admin.CountEntriesAsync(new CountEntriesRequest());

        Assert.Equal(3, first.Entries.Count);
        Assert.NotEmpty(first.NextPageToken);
        Assert.Equal(2, second.Entries.Count);
        Assert.Empty(second.NextPageToken);
        Assert.All(first.Entries.Concat(second.Entries), e => Assert.Equal("spiffe://acme.corp/agent-1", e.ParentId));
        Assert.Equal(6, count.Count);
    }

    [Fact]
    public async Task ListEntries_BadPageSizeOrParent_InvalidArgument()
    {
        var size = await Assert.ThrowsAsync<RpcException>(() => Admin.ListEntriesAsync(new ListEntriesRequest { PageSize = 20000 }).ResponseAsync);
        var parent = await Assert.ThrowsAsync<RpcException>(() => Admin.ListEntriesAsync(new ListEntriesRequest { ParentId = "acme.corp/x" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, size.StatusCode);
        Assert.Equal("invalid entry query: pageSize: must be between 1 and 10000", size.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, parent.StatusCode);
        Assert.StartsWith("parentId: ", parent.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GenerateJoinToken_Ttls_DefaultWorksAndOutOfRangeIsInvalidArgument()
    {
        var ok = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        var negative = await Assert.ThrowsAsync<RpcException>(() => Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest { TtlSeconds = -1 }).ResponseAsync);
        var tooLong = await Assert.ThrowsAsync<RpcException>(() => Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest { TtlSeconds = 90000 }).ResponseAsync);

        Assert.Equal($"spiffe://acme.corp/anchorage/agent/join_token/{ok.Id}", ok.AgentSpiffeId);
        Assert.StartsWith(ok.Id + ".", ok.Token, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, negative.StatusCode);
        Assert.Equal("ttlSeconds must not be negative", negative.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Equal("join token ttl must be between 1 second and 24 hours", tooLong.Status.Detail);
    }

    [Fact]
    public async Task Agents_ListGetBanEvict_FollowTheNode()
    {
        var svid = await _server.AttestAsync();
        var id = svid.Id.ToString();

        var listed = await Admin.ListAgentsAsync(new ListAgentsRequest());
        var got = await Admin.GetAgentAsync(new GetAgentRequest { SpiffeId = id });
        var banned = await Admin.BanAgentAsync(new BanAgentRequest { SpiffeId = id });
        await Admin.EvictAgentAsync(new EvictAgentRequest { SpiffeId = id });
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.GetAgentAsync(new GetAgentRequest { SpiffeId = id }).ResponseAsync);

        Assert.Equal([id], listed.Agents.Select(a => a.SpiffeId));
        Assert.Equal("join_token", got.AttestationType);
        Assert.Equal(svid.Leaf.SerialNumber.TrimStart('0').ToLowerInvariant(), got.CertSerial);
        Assert.False(got.Banned);
        Assert.True(banned.Banned);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal($"agent \"{id}\" not found", e.Status.Detail);
    }

    [Fact]
    public async Task GetBundle_Own_HoldsTheCaCertificate()
    {
        var bundle = await Admin.GetBundleAsync(new GetBundleRequest());

        var parsed = SpiffeBundle.Parse(ApiTestServer.Td, bundle.SpiffeBundleJson.Span);
        Assert.Equal("acme.corp", bundle.TrustDomain);
        Assert.True(bundle.Sequence >= 1);
        Assert.Equal(_server.Ca.ActiveX509Authority!.CertificateDer, Assert.Single(parsed.X509Authorities).RawData);
        Assert.Equal(_server.Ca.ActiveJwtAuthority!.Id, Assert.Single(parsed.JwtAuthorities).KeyId);
    }

    [Fact]
    public async Task SetBundle_PemOfAnotherDomain_ListedAsFederated()
    {
        var other = TestCa.CreateRoot("payments.acme.corp");

        var set = await Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "payments.acme.corp", Content = ByteString.CopyFromUtf8(other.Bundle().ToPem()) });
        var listed = await Admin.ListBundlesAsync(new ListBundlesRequest());

        Assert.Equal("payments.acme.corp", set.TrustDomain);
        var bundle = Assert.Single(listed.Bundles);
        Assert.Equal("payments.acme.corp", bundle.TrustDomain);
        Assert.Equal(other.Certificate.RawData, Assert.Single(SpiffeBundle.Parse(TrustDomain.Parse("payments.acme.corp"), bundle.SpiffeBundleJson.Span).X509Authorities).RawData);
    }

    [Fact]
    public async Task SetBundle_OwnDomainOrGarbage_InvalidArgument()
    {
        var own = await Assert.ThrowsAsync<RpcException>(() => Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "acme.corp", Content = ByteString.CopyFromUtf8("{}") }).ResponseAsync);
        var garbage = await Assert.ThrowsAsync<RpcException>(() => Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "other.corp", Content = ByteString.CopyFromUtf8("not a bundle") }).ResponseAsync);
        var empty = await Assert.ThrowsAsync<RpcException>(() => Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "other.corp" }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, own.StatusCode);
        Assert.Equal("cannot set the bundle of the local trust domain \"acme.corp\"; it is managed by the ca", own.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, garbage.StatusCode);
        Assert.Equal("bundle is neither a JWK Set, PEM nor DER", garbage.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Equal("content is required: a SPIFFE bundle (JSON) or PEM certificates", empty.Status.Detail);
    }

    [Fact]
    public async Task DeleteBundle_FederatedOwnAndUnknown_DeletedInvalidArgumentNotFound()
    {
        await Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "other.corp", Content = ByteString.CopyFromUtf8(TestCa.CreateRoot("other.corp").Bundle().ToPem()) });

        await Admin.DeleteBundleAsync(new DeleteBundleRequest { TrustDomain = "other.corp" });
        var again = await Assert.ThrowsAsync<RpcException>(() => Admin.DeleteBundleAsync(new DeleteBundleRequest { TrustDomain = "other.corp" }).ResponseAsync);
        var own = await Assert.ThrowsAsync<RpcException>(() => Admin.DeleteBundleAsync(new DeleteBundleRequest { TrustDomain = "spiffe://acme.corp" }).ResponseAsync);

        Assert.Empty((await Admin.ListBundlesAsync(new ListBundlesRequest())).Bundles);
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        Assert.Equal("no bundle for trust domain \"other.corp\"", again.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, own.StatusCode);
        Assert.Equal("cannot delete the bundle of the local trust domain \"acme.corp\"; it is managed by the ca", own.Status.Detail);
    }

    [Fact]
    public async Task ListAuthorities_KindsAndUnknownKind()
    {
        var x509 = await Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" });
        var both = await Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest());
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "pgp" }).ResponseAsync);

        var authority = Assert.Single(x509.Authorities);
        Assert.Equal(("x509", "active", _server.Ca.ActiveX509Authority!.Id, "test-server"), (authority.Kind, authority.State, authority.Id, authority.ServerId));
        Assert.Equal(_server.Ca.ActiveX509Authority.CertificateDer, authority.Certificate.ToByteArray());
        Assert.Equal(["x509", "jwt"], both.Authorities.Select(a => a.Kind));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("kind \"pgp\" is not x509 or jwt", e.Status.Detail);
    }

    [Fact]
    public async Task ActivateAuthority_CaInWrongState_FailedPreconditionWithItsMessage()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" }).ResponseAsync);
        var noKind = await Assert.ThrowsAsync<RpcException>(() => Admin.ActivateAuthorityAsync(new AuthorityRequest()).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Equal("no prepared x509 authority to activate; prepare one first", e.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, noKind.StatusCode);
        Assert.Equal("kind is required: x509 or jwt", noKind.Status.Detail);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task MintX509Svid_ValidCsr_SvidVerifiesWithTheReturnedBundle()
    {
        var response = await Admin.MintX509SvidAsync(new MintX509SvidRequest
        {
            SpiffeId = "spiffe://acme.corp/batch/job",
            Csr = ApiTestServer.NewCsr(),
            TtlSeconds = 600,
            DnsNames = { "job.acme.corp" },
        });

        var leaf = X509CertificateLoader.LoadCertificate(response.Svid.CertChain[0].Span);
        var bundle = SpiffeBundle.Parse(ApiTestServer.Td, response.Bundle.SpiffeBundleJson.Span);
        var verified = new X509SvidVerifier().Verify([leaf], bundle.ToX509Bundle());
        Assert.Equal("spiffe://acme.corp/batch/job", verified.Id.ToString());
        Assert.Equal("spiffe://acme.corp/batch/job", response.Svid.SpiffeId);
        Assert.InRange(response.Svid.ExpiresAt - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 590, 601);
        Assert.Contains("job.acme.corp", leaf.GetNameInfo(X509NameType.DnsName, forIssuer: false), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MintX509Svid_MalformedCsr_InvalidArgument()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.MintX509SvidAsync(new MintX509SvidRequest
        {
            SpiffeId = "spiffe://acme.corp/batch/job",
            Csr = ByteString.CopyFromUtf8("not a csr"),
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("csr is not valid DER", e.Status.Detail);
    }

    [Theory]
    [InlineData("spiffe://acme.corp/anchorage/server")]
    [InlineData("spiffe://acme.corp/anchorage/agent/join_token/a1")]
    [InlineData("spiffe://acme.corp/anchorage/anything")]
    public async Task MintSvid_ReservedId_InvalidArgumentAndNothingSigned(string id)
    {
        var x509 = await Assert.ThrowsAsync<RpcException>(() => Admin.MintX509SvidAsync(new MintX509SvidRequest
        {
            SpiffeId = id,
            Csr = ApiTestServer.NewCsr(),
        }).ResponseAsync);
        var jwt = await Assert.ThrowsAsync<RpcException>(() => Admin.MintJwtSvidAsync(new MintJwtSvidRequest { SpiffeId = id, Audience = { "db" } }).ResponseAsync);

        // Positive control: the same call for an ordinary ID of the trust domain is signed.
        var allowed = await Admin.MintX509SvidAsync(new MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/anchorage-like/job", Csr = ApiTestServer.NewCsr() });

        var message = $"spiffeId: \"{id}\": paths under /anchorage/ are reserved for the server and its agents and cannot be minted";
        Assert.Equal((StatusCode.InvalidArgument, message), (x509.StatusCode, x509.Status.Detail));
        Assert.Equal((StatusCode.InvalidArgument, message), (jwt.StatusCode, jwt.Status.Detail));
        Assert.Equal("spiffe://acme.corp/anchorage-like/job", allowed.Svid.SpiffeId);
    }

    [Fact]
    public async Task MintX509Svid_IdOfAnotherTrustDomain_InvalidArgument()
    {
        var foreign = await Assert.ThrowsAsync<RpcException>(() => Admin.MintX509SvidAsync(new MintX509SvidRequest
        {
            SpiffeId = "spiffe://other.corp/job",
            Csr = ApiTestServer.NewCsr(),
        }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, foreign.StatusCode);
        Assert.Equal("spiffe id \"spiffe://other.corp/job\" is not in trust domain \"acme.corp\" of this ca", foreign.Status.Detail);
    }

    [Fact]
    public async Task AuthorityVerbs_FullForcedRotation_EachStepAndTheOutOfOrderOnesRefused()
    {
        var first = _server.Ca.ActiveX509Authority!.Id;

        var prepared = await Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var again = await Assert.ThrowsAsync<RpcException>(() => Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" }).ResponseAsync);
        var activated = await Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var taintActive = await Assert.ThrowsAsync<RpcException>(() => Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509", Id = prepared.Id }).ResponseAsync);
        var tainted = await Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var revoked = await Admin.RevokeAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var unknown = await Assert.ThrowsAsync<RpcException>(() => Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509", Id = "0badc0de" }).ResponseAsync);

        Assert.Equal("prepared", prepared.State);
        Assert.Equal(StatusCode.FailedPrecondition, again.StatusCode);
        Assert.Equal($"x509 authority \"{prepared.Id}\" is already prepared; activate it before preparing another", again.Status.Detail);
        Assert.Equal((prepared.Id, "active"), (activated.Id, activated.State));
        Assert.Equal(StatusCode.FailedPrecondition, taintActive.StatusCode);
        Assert.Equal($"cannot taint the active x509 authority \"{prepared.Id}\"; activate another first", taintActive.Status.Detail);
        Assert.Equal((first, true), (tainted.Id, tainted.Tainted));
        Assert.Equal(first, revoked.Id);
        Assert.Equal([prepared.Id], (await Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" })).Authorities.Select(a => a.Id));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("x509 authority \"0badc0de\" not found", unknown.Status.Detail);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3")]
    public async Task MintJwtSvid_Valid_ValidatesWithTheBundle()
    {
        var response = await Admin.MintJwtSvidAsync(new MintJwtSvidRequest { SpiffeId = "spiffe://acme.corp/batch/job", Audience = { "db" }, TtlSeconds = 60 });
        var bundle = SpiffeBundle.Parse(ApiTestServer.Td, (await Admin.GetBundleAsync(new GetBundleRequest())).SpiffeBundleJson.Span);
        var noAudience = await Assert.ThrowsAsync<RpcException>(() => Admin.MintJwtSvidAsync(new MintJwtSvidRequest { SpiffeId = "spiffe://acme.corp/batch/job" }).ResponseAsync);

        var svid = new JwtSvidValidator().Validate(response.Token, "db", bundle.ToJwtBundle());
        Assert.Equal("spiffe://acme.corp/batch/job", svid.Id.ToString());
        Assert.Equal(StatusCode.InvalidArgument, noAudience.StatusCode);
        Assert.Equal("audience must hold at least one non-empty value", noAudience.Status.Detail);
    }

    private async Task<Common.Entry> CreateAsync(Common.Entry entry)
    {
        var result = (await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { entry } })).Results.Single();
        Assert.True(result.ErrorCode == 0, result.Error);
        return result.Entry;
    }

    internal static Common.Entry Entry(string path, string parentPath, string selector = "uid:1000") => new()
    {
        SpiffeId = "spiffe://acme.corp" + path,
        ParentId = "spiffe://acme.corp" + parentPath,
        Selectors = { new Common.Selector { Type = "unix", Value = selector } },
    };
}
