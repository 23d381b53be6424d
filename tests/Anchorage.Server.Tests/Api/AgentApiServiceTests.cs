using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.X509;
using Google.Protobuf;
using Grpc.Core;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Tests.Api;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AgentApiServiceTests : IAsyncLifetime
{
    private ApiTestServer _server = null!;

    private AdminApi.AdminApiClient Admin => _server.Admin;

    public async Task InitializeAsync() => _server = await ApiTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task AttestJoinToken_ValidToken_AgentSvidVerifiesAndNamesTheAgent()
    {
        var token = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await _server.Agent().AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token.Token, Csr = ApiTestServer.Csr(key) });

        var leaf = X509CertificateLoader.LoadCertificate(response.Svid.CertChain[0].Span);
        var bundle = SpiffeBundle.Parse(ApiTestServer.Td, response.Bundle.SpiffeBundleJson.Span);
        Assert.Equal(token.AgentSpiffeId, new X509SvidVerifier().Verify([leaf], bundle.ToX509Bundle()).Id.ToString());
        Assert.Equal(token.AgentSpiffeId, response.Svid.SpiffeId);
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), leaf.PublicKey.ExportSubjectPublicKeyInfo());
        var node = await Admin.GetAgentAsync(new GetAgentRequest { SpiffeId = token.AgentSpiffeId });
        Assert.Equal(["join_token:" + token.Id], node.Selectors.Select(s => s.Type + ":" + s.Value));
        var secret = token.Token[(token.Id.Length + 1)..];
        Assert.Contains(_server.Log.Events, e => e.EventId == 3404 && e.Message.StartsWith($"agent {token.AgentSpiffeId} attested", StringComparison.Ordinal));
        Assert.DoesNotContain(_server.Log.Events, e => e.Message.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AttestJoinToken_SecondRedeem_PermissionDenied()
    {
        var token = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        await _server.RedeemAsync(token.Token);

        var e = await Assert.ThrowsAsync<RpcException>(() => _server.RedeemAsync(token.Token));

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal("join token is invalid or has expired", e.Status.Detail);
    }

    [Fact]
    public async Task AttestJoinToken_MalformedCsr_InvalidArgumentAndTheTokenStillWorks()
    {
        var token = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());

        var e = await Assert.ThrowsAsync<RpcException>(() => _server.Agent().AttestJoinTokenAsync(
            new AttestJoinTokenRequest { Token = token.Token, Csr = ByteString.CopyFrom(0x30, 0x03, 0x01) }).ResponseAsync);
        var svid = await _server.RedeemAsync(token.Token);

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("csr is not valid DER", e.Status.Detail);
        Assert.Equal(token.AgentSpiffeId, svid.Id.ToString());
    }

    private static string Stale(X509Svid svid) =>
        $"agent SVID serial {svid.Leaf.SerialNumber.TrimStart('0').ToLowerInvariant()} is not the current one";

    private async Task<X509Svid> RenewAsync(X509Svid svid)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var renewed = await _server.Agent(svid).RenewAgentAsync(new RenewAgentRequest { Csr = ApiTestServer.Csr(key) });
        return ApiTestServer.ToSvid(renewed.Svid, key);
    }

    private async Task<RpcException> RefusedAsync(X509Svid svid) =>
        await Assert.ThrowsAsync<RpcException>(() => _server.Agent(svid).GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);

    [Fact]
    public async Task RenewAgent_NewSvidUsed_OldSvidThenPermissionDenied()
    {
        var first = await _server.AttestAsync();
        var second = await RenewAsync(first);
        await _server.Agent(first).GetBundlesAsync(new GetBundlesRequest()); // still accepted until the new one is used

        await _server.Agent(second).GetBundlesAsync(new GetBundlesRequest());
        var old = await RefusedAsync(first);
        var oldRenew = await Assert.ThrowsAsync<RpcException>(() => _server.Agent(first).RenewAgentAsync(new RenewAgentRequest { Csr = ApiTestServer.NewCsr() }).ResponseAsync);
        var again = await _server.Agent(second).RenewAgentAsync(new RenewAgentRequest { Csr = ApiTestServer.NewCsr() });

        Assert.Equal(first.Id, second.Id);
        Assert.NotEqual(first.Leaf.SerialNumber, second.Leaf.SerialNumber);
        Assert.Equal(StatusCode.PermissionDenied, old.StatusCode);
        Assert.Equal(Stale(first), old.Status.Detail);
        Assert.Equal(StatusCode.PermissionDenied, oldRenew.StatusCode);
        Assert.Equal(Stale(first), oldRenew.Status.Detail);
        Assert.Equal(first.Id.ToString(), again.Svid.SpiffeId);
    }

    [Fact]
    public async Task RenewAgent_AnswerLost_OldSvidStillAcceptedAndRenewsAgain()
    {
        var first = await _server.AttestAsync();
        await _server.Agent(first).RenewAgentAsync(new RenewAgentRequest { Csr = ApiTestServer.NewCsr() }); // answer "lost"

        await _server.Agent(first).GetBundlesAsync(new GetBundlesRequest());
        var third = await RenewAsync(first);
        await _server.Agent(third).GetBundlesAsync(new GetBundlesRequest());

        Assert.Equal(Stale(first), (await RefusedAsync(first)).Status.Detail);
        var node = await Admin.GetAgentAsync(new GetAgentRequest { SpiffeId = first.Id.ToString() });
        Assert.Equal(third.Leaf.SerialNumber.TrimStart('0').ToLowerInvariant(), node.CertSerial);
    }

    [Fact]
    public async Task RenewAgent_TwiceWithOldSvid_OnlyTheLatestNewSvidAccepted()
    {
        var first = await _server.AttestAsync();
        var second = await RenewAsync(first);
        var third = await RenewAsync(first);

        var replaced = await RefusedAsync(second);
        await _server.Agent(first).GetBundlesAsync(new GetBundlesRequest());
        await _server.Agent(third).GetBundlesAsync(new GetBundlesRequest());

        Assert.Equal(StatusCode.PermissionDenied, replaced.StatusCode);
        Assert.Equal(Stale(second), replaced.Status.Detail);
        Assert.Equal(Stale(first), (await RefusedAsync(first)).Status.Detail);
        Assert.Equal(Stale(second), (await RefusedAsync(second)).Status.Detail);
    }

    [Fact]
    public async Task RenewAgent_NewSvidNotYetUsed_SecondServerCallWithItAcceptedOnce()
    {
        // Positive control for the test above: the second SVID works when no later renewal replaced it.
        var first = await _server.AttestAsync();
        var second = await RenewAsync(first);

        await _server.Agent(second).GetBundlesAsync(new GetBundlesRequest());
        await _server.Agent(second).GetBundlesAsync(new GetBundlesRequest());

        Assert.Single(_server.Log.Events, e => e.EventId == 3315);
    }

    [Fact]
    public async Task AgentCalls_BannedThenEvicted_PermissionDenied()
    {
        var svid = await _server.AttestAsync();
        var agent = _server.Agent(svid);
        await agent.GetBundlesAsync(new GetBundlesRequest());

        await Admin.BanAgentAsync(new BanAgentRequest { SpiffeId = svid.Id.ToString() });
        var banned = await Assert.ThrowsAsync<RpcException>(() => agent.GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);
        await Admin.EvictAgentAsync(new EvictAgentRequest { SpiffeId = svid.Id.ToString() });
        var evicted = await Assert.ThrowsAsync<RpcException>(() => agent.RenewAgentAsync(new RenewAgentRequest { Csr = ApiTestServer.NewCsr() }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, banned.StatusCode);
        Assert.Equal($"agent {svid.Id} is banned", banned.Status.Detail);
        Assert.Equal(StatusCode.PermissionDenied, evicted.StatusCode);
        Assert.Equal($"agent {svid.Id} is not attested (evicted or unknown)", evicted.Status.Detail);
    }

    [Fact]
    public async Task AgentCalls_NoClientCertificate_PermissionDenied()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => _server.Agent().GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal("agent svid is required", e.Status.Detail);
    }

    [Fact]
    public async Task AgentCalls_WorkloadSvidOfTheTrustDomain_PermissionDenied()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var minted = await Admin.MintX509SvidAsync(new MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/web", Csr = ApiTestServer.Csr(key) });

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            _server.Agent(ApiTestServer.ToSvid(minted.Svid, key)).GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal("caller is not an agent of this trust domain", e.Status.Detail);
    }

    [Fact]
    public async Task GetBundles_OwnFederatedAndTainted()
    {
        var svid = await _server.AttestAsync();
        var other = TestCa.CreateRoot("other.corp");
        await Admin.SetBundleAsync(new SetBundleRequest { TrustDomain = "other.corp", Content = ByteString.CopyFromUtf8(other.Bundle().ToPem()) });
        var first = _server.Ca.ActiveX509Authority!.Id;
        await Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });

        var response = await _server.Agent(svid).GetBundlesAsync(new GetBundlesRequest());

        Assert.Equal("acme.corp", response.Own.TrustDomain);
        Assert.Equal(2, SpiffeBundle.Parse(ApiTestServer.Td, response.Own.SpiffeBundleJson.Span).X509Authorities.Length);
        Assert.Equal(["other.corp"], response.Federated.Select(b => b.TrustDomain));
        var tainted = Assert.Single(response.Tainted);
        Assert.Equal(("x509", first), (tainted.Kind, tainted.Id));
    }

    [Fact]
    public async Task SyncEntries_2500Entries_ThreePagesThenIncrementalChanges()
    {
        var svid = await _server.AttestAsync();
        var agentPath = svid.Id.Path;
        var ids = new List<string>();
        for (var batch = 0; batch < 5; batch++)
        {
            var request = new CreateEntriesRequest();
            for (var i = 0; i < 500; i++)
            {
                request.Entries.Add(AdminApiServiceTests.Entry($"/w/{(batch * 500) + i}", agentPath));
            }

            var created = await Admin.CreateEntriesAsync(request);
            Assert.All(created.Results, r => Assert.Equal(0, r.ErrorCode));
            ids.AddRange(created.Results.Select(r => r.Entry.Id));
        }

        var otherAgents = (await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/db", "/elsewhere") } })).Results[0].Entry;
        var agent = _server.Agent(svid);

        var full = await SyncAsync(agent, 0, 0);

        Assert.Equal([1000, 1000, 500], full.Select(p => p.Upserted.Count));
        Assert.Equal([true, true, false], full.Select(p => p.More));
        Assert.All(full, p => Assert.True(p.FullResync));
        Assert.Single(full.Select(p => p.Revision).Distinct());
        Assert.Equal(ids.Order(StringComparer.Ordinal), full.SelectMany(p => p.Upserted).Select(e => e.Id));

        var revision = full[0].Revision;
        var added = (await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/w/new", agentPath) } })).Results[0].Entry;
        await Admin.DeleteEntryAsync(new DeleteEntryRequest { Id = ids[7] });
        var moved = (await Admin.GetEntryAsync(new GetEntryRequest { Id = ids[8] })).Clone();
        moved.ParentId = "spiffe://acme.corp/elsewhere";
        await Admin.UpdateEntryAsync(new UpdateEntryRequest { Entry = moved });
        var unrelated = otherAgents.Clone();
        unrelated.DnsNames.Add("db.acme.corp");
        await Admin.UpdateEntryAsync(new UpdateEntryRequest { Entry = unrelated });

        var incremental = Assert.Single(await SyncAsync(agent, revision, 0));

        Assert.False(incremental.FullResync);
        Assert.False(incremental.More);
        Assert.True(incremental.Revision > revision);
        Assert.Equal([added.Id], incremental.Upserted.Select(e => e.Id));
        Assert.Equal(new[] { ids[7], ids[8], otherAgents.Id }.Order(StringComparer.Ordinal), incremental.RemovedIds.Order(StringComparer.Ordinal));

        var unchanged = Assert.Single(await SyncAsync(agent, incremental.Revision, 0));
        Assert.Empty(unchanged.Upserted);
        Assert.Empty(unchanged.RemovedIds);
        Assert.False(unchanged.FullResync);
    }

    [Fact]
    public async Task SyncEntries_12kEntriesAtTheMaximumPageSize_EveryMessageBounded()
    {
        // Message size depends on the page size only, never on the total; 12k entries keep the run short
        // (the store inserts one at a time), the 100k-entry index is tested with AuthorizedEntries.
        var svid = await _server.AttestAsync();
        for (var i = 0; i < 12_000; i++)
        {
            await _server.Store.CreateEntryAsync(
                new Anchorage.Server.Registration.RegistrationEntry
                {
                    Id = i.ToString("d6", System.Globalization.CultureInfo.InvariantCulture),
                    SpiffeId = Spiffe.Ids.SpiffeId.Parse($"spiffe://acme.corp/w/{i}"),
                    ParentId = svid.Id,
                    Selectors = [new Anchorage.Foundation.Selectors.Selector("unix", "uid:1000")],
                },
                CancellationToken.None);
        }

        var pages = await SyncAsync(_server.Agent(svid), 0, 5000);

        Assert.Equal([5000, 5000, 2000], pages.Select(p => p.Upserted.Count));
        Assert.All(pages, p => Assert.InRange(p.CalculateSize(), 1, 4 * 1024 * 1024));
        Assert.Equal(12_000, pages.SelectMany(p => p.Upserted).Select(e => e.Id).Distinct().Count());
    }

    [Fact]
    public async Task SyncEntries_NodeAliasChanged_FullResync()
    {
        var token = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest { SpiffeId = "spiffe://acme.corp/cluster/a" });
        var svid = await _server.RedeemAsync(token.Token);
        await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { AdminApiServiceTests.Entry("/via-alias", "/cluster/a") } });
        var agent = _server.Agent(svid);
        var first = Assert.Single(await SyncAsync(agent, 0, 0));
        var quiet = Assert.Single(await SyncAsync(agent, first.Revision, 0));

        var alias = new Common.Entry
        {
            SpiffeId = "spiffe://acme.corp/cluster/b",
            ParentId = "spiffe://acme.corp/anchorage/server",
            Selectors = { new Common.Selector { Type = "join_token", Value = token.Id } },
        };
        Assert.Equal(0, (await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { alias } })).Results[0].ErrorCode);
        var afterAlias = Assert.Single(await SyncAsync(agent, first.Revision, 0));

        Assert.Equal(["spiffe://acme.corp/via-alias"], first.Upserted.Select(e => e.SpiffeId));
        Assert.False(quiet.FullResync);
        Assert.True(afterAlias.FullResync);
        Assert.Equal(["spiffe://acme.corp/via-alias"], afterAlias.Upserted.Select(e => e.SpiffeId));
    }

    [Fact]
    public async Task SyncEntries_PageSizeAboveTheMaximum_InvalidArgument()
    {
        var agent = _server.Agent(await _server.AttestAsync());

        var e = await Assert.ThrowsAsync<RpcException>(() => SyncAsync(agent, 0, 5001));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("pageSize must be between 0 and 5000", e.Status.Detail);
    }

    [Fact]
    public async Task BatchNewX509Svid_MixedEntries_EachResultAlone()
    {
        var svid = await _server.AttestAsync();
        var mine = AdminApiServiceTests.Entry("/web", svid.Id.Path);
        mine.DnsNames.Add("web.acme.corp");
        mine.X509SvidTtlSeconds = 900;
        var created = await Admin.CreateEntriesAsync(new CreateEntriesRequest { Entries = { mine, AdminApiServiceTests.Entry("/db", "/other-agent") } });
        var (myId, theirId) = (created.Results[0].Entry.Id, created.Results[1].Entry.Id);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var response = await _server.Agent(svid).BatchNewX509SvidAsync(new BatchNewX509SvidRequest
        {
            Params =
            {
                new NewX509SvidParams { EntryId = myId, Csr = ApiTestServer.Csr(key) },
                new NewX509SvidParams { EntryId = theirId, Csr = ApiTestServer.NewCsr() },
                new NewX509SvidParams { EntryId = "does-not-exist", Csr = ApiTestServer.NewCsr() },
                new NewX509SvidParams { EntryId = myId, Csr = ByteString.CopyFromUtf8("garbage") },
            },
        });

        var ok = response.Results[0];
        Assert.Equal((myId, 0, string.Empty), (ok.EntryId, ok.ErrorCode, ok.Error));
        var leaf = X509CertificateLoader.LoadCertificate(ok.Svid.CertChain[0].Span);
        Assert.Equal("spiffe://acme.corp/web", new X509SvidVerifier().Verify([leaf], _server.Bundle).Id.ToString());
        Assert.Equal("web.acme.corp", leaf.GetNameInfo(X509NameType.DnsName, forIssuer: false));
        Assert.Equal(TimeSpan.FromSeconds(900) + RotationPlanner.Backdate, leaf.NotAfter - leaf.NotBefore);
        Assert.Equal((theirId, (int)StatusCode.NotFound, "entry not found or not authorized"), (response.Results[1].EntryId, response.Results[1].ErrorCode, response.Results[1].Error));
        Assert.Null(response.Results[1].Svid);
        Assert.Equal(((int)StatusCode.NotFound, "entry not found or not authorized"), (response.Results[2].ErrorCode, response.Results[2].Error));
        Assert.Equal(((int)StatusCode.InvalidArgument, "csr is not valid DER"), (response.Results[3].ErrorCode, response.Results[3].Error));
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3")]
    public async Task NewJwtSvid_AuthorizedAndNot_TokenOrNotFound()
    {
        var svid = await _server.AttestAsync();
        var created = await Admin.CreateEntriesAsync(new CreateEntriesRequest
        {
            Entries = { AdminApiServiceTests.Entry("/web", svid.Id.Path), AdminApiServiceTests.Entry("/db", "/other-agent") },
        });
        var agent = _server.Agent(svid);

        var response = await agent.NewJwtSvidAsync(new NewJwtSvidRequest { EntryId = created.Results[0].Entry.Id, Audience = { "api" } });
        var e = await Assert.ThrowsAsync<RpcException>(() => agent.NewJwtSvidAsync(new NewJwtSvidRequest { EntryId = created.Results[1].Entry.Id, Audience = { "api" } }).ResponseAsync);

        var bundle = SpiffeBundle.Parse(ApiTestServer.Td, (await Admin.GetBundleAsync(new GetBundleRequest())).SpiffeBundleJson.Span);
        Assert.Equal("spiffe://acme.corp/web", new JwtSvidValidator().Validate(response.Token, "api", bundle.ToJwtBundle()).Id.ToString());
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal("entry not found or not authorized", e.Status.Detail);
    }

    private static async Task<List<SyncEntriesResponse>> SyncAsync(AgentApi.AgentApiClient agent, long since, int pageSize)
    {
        using var call = agent.SyncEntries(new SyncEntriesRequest { SinceRevision = since, PageSize = pageSize });
        var pages = new List<SyncEntriesResponse>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            pages.Add(call.ResponseStream.Current);
        }

        return pages;
    }
}
