using System.Runtime.Versioning;
using System.Security.Cryptography;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.Postgres;
using Anchorage.Testing;
using Grpc.Core;

namespace Anchorage.IntegrationTests;

/// <summary>Two servers (own data dirs and server ids) on one PostgreSQL database serve one trust domain.</summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class HighAvailabilityTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _cleanup = [];
    private TestServer _a = null!;
    private TestServer _b = null!;

    public async Task InitializeAsync()
    {
        if (PostgresTestEnvironment.SkipReason is not null)
        {
            return; // every test here is skipped
        }

        var db = await TestDatabase.CreateAsync();
        _cleanup.Add(db);
        var datastore = new DatastoreOptions { Kind = DataStoreKind.Postgres, PostgresConnectionString = db.ConnectionString };
        _a = await StartAsync(datastore, "server-a");
        _b = await StartAsync(datastore, "server-b");

        // A started before B existed: a rotation check makes each re-read the journal.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _a.Server.Ca.CheckRotationAsync(timeout.Token);
        await _b.Server.Ca.CheckRotationAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task Bundle_FromEitherServer_HoldsBothActiveAuthorities()
    {
        var activeA = _a.Server.Ca.ActiveX509Authority!;
        var activeB = _b.Server.Ca.ActiveX509Authority!;

        var fromA = await _a.BundleAsync();
        var fromB = await _b.BundleAsync();

        Assert.Equal(("server-a", "server-b"), (activeA.ServerId, activeB.ServerId));
        Assert.NotEqual(activeA.Id, activeB.Id);
        var expected = new[] { activeA.Id, activeB.Id }.Order();
        Assert.Equal(expected, CliEndToEndTests.Ids(fromA).Order());
        Assert.Equal(expected, CliEndToEndTests.Ids(fromB).Order());
        Assert.Equal(fromA.SequenceNumber, fromB.SequenceNumber);
        Assert.Equal(2, fromA.JwtAuthorities.Length);
        var authorities = await _b.Admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = "x509" });
        Assert.Equal(
            [(activeA.Id, "server-a", "active"), (activeB.Id, "server-b", "active")],
            authorities.Authorities.Select(a => (a.Id, a.ServerId, a.State)).OrderBy(a => a.ServerId));
    }

    [PostgresFact]
    public async Task Agent_AttestsOnAThenRenewsSyncsAndBatchSignsOnB_EverySvidVerifiesAgainstTheBundle()
    {
        var token = await _a.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        using var agentKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var attested = await _a.Agent(null, _a.Server.Ca).AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token.Token, Csr = TestServer.Csr(agentKey) });
        var agentSvid = TestServer.ToSvid(attested.Svid, agentKey);
        var entry = (await _a.Admin.CreateEntriesAsync(new CreateEntriesRequest
        {
            Entries =
            {
                new Protos.Common.V1.Entry
                {
                    SpiffeId = "spiffe://acme.corp/web",
                    ParentId = token.AgentSpiffeId,
                    Selectors = { new Protos.Common.V1.Selector { Type = "unix", Value = "uid:1000" } },
                },
            },
        })).Results.Single().Entry;

        var onB = _b.Agent(agentSvid, _b.Server.Ca);
        using var renewKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var renewed = TestServer.ToSvid((await onB.RenewAgentAsync(new RenewAgentRequest { Csr = TestServer.Csr(renewKey) })).Svid, renewKey);
        var renewedOnB = _b.Agent(renewed, _b.Server.Ca);
        var synced = new List<SyncEntriesResponse>();
        using (var call = renewedOnB.SyncEntries(new SyncEntriesRequest()))
        {
            await foreach (var page in call.ResponseStream.ReadAllAsync())
            {
                synced.Add(page);
            }
        }

        using var workloadKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var batch = await renewedOnB.BatchNewX509SvidAsync(new BatchNewX509SvidRequest
        {
            Params = { new NewX509SvidParams { EntryId = entry.Id, Csr = TestServer.Csr(workloadKey) } },
        });
        var bundlesOnB = await renewedOnB.GetBundlesAsync(new GetBundlesRequest());

        // The old agent SVID was replaced on B: A refuses it too (one node record, one database).
        var replaced = await Assert.ThrowsAsync<RpcException>(() => _a.Agent(agentSvid, _a.Server.Ca).GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, replaced.StatusCode);

        Assert.Equal([entry.Id], synced.SelectMany(p => p.Upserted).Select(e => e.Id));
        var result = Assert.Single(batch.Results);
        Assert.True(result.ErrorCode == 0, result.Error);
        var workload = TestServer.ToSvid(result.Svid, workloadKey);

        // Issued by A (the attestation) and by B (renewal, workload SVID).
        var activeA = _a.Server.Ca.ActiveX509Authority!.Id;
        var activeB = _b.Server.Ca.ActiveX509Authority!.Id;
        Assert.Equal(activeA, CliEndToEndTests.Aki(agentSvid.Leaf.RawData));
        Assert.Equal(activeB, CliEndToEndTests.Aki(renewed.Leaf.RawData));
        Assert.Equal(activeB, CliEndToEndTests.Aki(workload.Leaf.RawData));

        var verifier = new X509SvidVerifier();
        foreach (var bundle in new[] { await _a.BundleAsync(), await _b.BundleAsync(), SpiffeBundle.Parse(TestServer.Td, bundlesOnB.Own.SpiffeBundleJson.Span) })
        {
            var x509 = bundle.ToX509Bundle();
            Assert.Equal(token.AgentSpiffeId, verifier.Verify(agentSvid.Certificates, x509).Id.ToString());
            Assert.Equal(token.AgentSpiffeId, verifier.Verify(renewed.Certificates, x509).Id.ToString());
            Assert.Equal("spiffe://acme.corp/web", verifier.Verify(workload.Certificates, x509).Id.ToString());
        }
    }

    private async Task<TestServer> StartAsync(DatastoreOptions datastore, string serverId)
    {
        var dir = new TempDir();
        _cleanup.Add(new DisposeDir(dir));
        var server = await TestServer.StartAsync(TestServer.Options(dir.Path, datastore, serverId));
        _cleanup.Add(server);
        return server;
    }

    private sealed class DisposeDir(TempDir dir) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            dir.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
