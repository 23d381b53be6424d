using Anchorage.Agent.Attestation;
using Anchorage.Agent.Node;
using Anchorage.Foundation.Selectors;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Grpc.Core;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// The agent's node lifecycle and identity cache against a real server: join-token attestation,
/// restart without re-attestation, entry sync, SVID issuance and re-issuance, server outage.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class WorkloadCacheTests
{
    private static readonly Selector[] Uid1000 = [new("unix", "uid:1000")];

    [Fact]
    public async Task Sync_MatchingWorkload_GetsVerifiableSvidOfItsEntry()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        await NodeParts.EntryAsync(server, agentId, "/db", "unix:uid:2000");
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));

        await node.SyncAsync();

        Assert.Equal(agentId, node.Session.AgentId);
        var identity = node.Cache.Resolve("pid:1", Uid1000);
        Assert.NotNull(identity);
        var svid = Assert.Single(identity.X509Svids);
        Assert.Equal("spiffe://acme.corp/web", svid.Id.ToString());
        var bundle = await server.BundleAsync();
        var verified = new X509SvidVerifier().Verify(svid.Certificates, BundleSet.Empty.With(bundle));
        Assert.Equal(svid.Id, verified.Id);

        // Same cache, selectors of no entry: nothing.
        Assert.Null(node.Cache.Resolve("pid:2", [new Selector("unix", "uid:3000")]));
    }

    [Fact]
    public async Task Start_SavedSvid_ResumesWithoutJoinToken_AndKeyFileIsPrivate()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var dataDir = Path.Combine(dir.Path, "agent");
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        var options = await NodeParts.OptionsAsync(server, dataDir, token);
        using (var first = await NodeParts.StartAsync(options))
        {
            await first.SyncAsync();
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dataDir, AgentStateStore.KeyFileName)));

        // The token is spent: a second attestation would fail, so success proves the saved SVID was used.
        using var second = await NodeParts.StartAsync(options with { JoinToken = null });
        await second.SyncAsync();
        Assert.Equal(agentId, second.Session.AgentId);
        Assert.NotNull(second.Cache.Resolve("pid:1", Uid1000));
    }

    [Fact]
    public async Task Start_NoStateAndNoToken_FailsWithReason()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var options = await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), joinToken: null);

        var e = await Assert.ThrowsAsync<AgentStartException>(() => NodeParts.StartAsync(options));
        Assert.Equal("the agent has no SVID in its data directory and no joinToken is configured", e.Message);
    }

    [Fact]
    public async Task Start_SpentToken_FailsWithServerReason()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, _) = await NodeParts.TokenAsync(server);
        using (await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "a"), token)))
        {
        }

        var e = await Assert.ThrowsAsync<AgentStartException>(async () =>
            await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "b"), token)));
        Assert.StartsWith("the server refused the join token: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[1], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CorruptState_IsMovedAsideAndAgentAttestsAgain()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var dataDir = Path.Combine(dir.Path, "agent");
        var (token1, _) = await NodeParts.TokenAsync(server);
        using (await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, dataDir, token1)))
        {
        }

        var svidFile = Path.Combine(dataDir, AgentStateStore.SvidFileName);
        await File.WriteAllTextAsync(svidFile, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        var (token2, agent2) = await NodeParts.TokenAsync(server);

        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, dataDir, token2));

        Assert.Equal(agent2, node.Session.AgentId);
        Assert.Single(Directory.GetFiles(dataDir, AgentStateStore.SvidFileName + ".corrupt-*"));
    }

    [Fact]
    public async Task Sync_EntryDeleted_WorkloadLosesIdentity_EntryAdded_Gains()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        var web = await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));
        await node.SyncAsync();
        var before = node.Cache.Resolve("pid:1", Uid1000);
        Assert.NotNull(before);

        await server.Admin.DeleteEntryAsync(new DeleteEntryRequest { Id = web.Id });
        await NodeParts.EntryAsync(server, agentId, "/api", "unix:uid:1000", "unix:gid:1000");
        await node.SyncAsync();

        Assert.True(before.Changed.IsCancellationRequested);
        Assert.Null(node.Cache.Resolve("pid:1", Uid1000));
        var after = node.Cache.Resolve("pid:1", [.. Uid1000, new Selector("unix", "gid:1000")]);
        Assert.Equal("spiffe://acme.corp/api", Assert.Single(after!.X509Svids).Id.ToString());
    }

    [Fact]
    public async Task Sync_ServerDown_CachedSvidStillServed_ThenRecovers()
    {
        using var dir = new TempDir();
        var serverDir = Path.Combine(dir.Path, "server");
        Directory.CreateDirectory(serverDir);
        var serverOptions = TestServer.Options(serverDir);
        var server = await TestServer.StartAsync(serverOptions);
        NodeParts? node = null;
        try
        {
            var (token, agentId) = await NodeParts.TokenAsync(server);
            await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
            node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));
            await node.SyncAsync();
            var port = server.Server.Host.AgentApiEndpoint.Port;
            await server.DisposeAsync();

            // Unavailable when the call finds no server; Internal when it starts on the pooled HTTP/2
            // connection the server was closing (grpc-dotnet maps that stream's end so, per the
            // HTTP/2-to-gRPC mapping). The sync loop treats both alike: it keeps the cache and retries.
            var down = await Assert.ThrowsAsync<RpcException>(node.SyncAsync);
            Assert.Contains(down.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
            var served = node.Cache.Resolve("pid:1", Uid1000);
            Assert.Equal("spiffe://acme.corp/web", Assert.Single(served!.X509Svids).Id.ToString());

            // The same server (data dir, port) comes back: the agent carries on by itself.
            server = await TestServer.StartAsync(serverOptions with
            {
                Listen = serverOptions.Listen with { AgentApi = new Foundation.Config.HostPort("127.0.0.1", port) },
            });
            await node.SyncAsync();
            Assert.Null(node.Sync.LastError);
        }
        finally
        {
            node?.Dispose();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Sync_AuthorityTainted_SvidReissuedByNewAuthority()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));
        await node.SyncAsync();
        var first = Assert.Single(node.Cache.Resolve("pid:1", Uid1000)!.X509Svids);

        // Nothing due: a sync keeps the same SVID (positive control for the re-issue below).
        await node.SyncAsync();
        Assert.Same(first, Assert.Single(node.Cache.Resolve("pid:1", Uid1000)!.X509Svids));

        await server.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await server.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await server.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await node.SyncAsync();

        var second = Assert.Single(node.Cache.Resolve("pid:1", Uid1000)!.X509Svids);
        Assert.NotEqual(first.Leaf.SerialNumber, second.Leaf.SerialNumber);
        Assert.NotEqual(first.Leaf.Issuer + Convert.ToHexString(first.Leaf.GetCertHash()), second.Leaf.Issuer + Convert.ToHexString(second.Leaf.GetCertHash()));
        var aki = (System.Security.Cryptography.X509Certificates.X509AuthorityKeyIdentifierExtension)first.Leaf.Extensions["2.5.29.35"]!;
        var aki2 = (System.Security.Cryptography.X509Certificates.X509AuthorityKeyIdentifierExtension)second.Leaf.Extensions["2.5.29.35"]!;
        Assert.False(aki.KeyIdentifier!.Value.Span.SequenceEqual(aki2.KeyIdentifier!.Value.Span));
    }

    [Fact]
    public async Task Sync_AgentEvicted_RefusalRecorded_CachedSvidStillServed()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));
        await node.SyncAsync();
        Assert.Null(node.Session.Refusal);

        await server.Admin.EvictAgentAsync(new EvictAgentRequest { SpiffeId = agentId.ToString() });
        var e = await Assert.ThrowsAsync<RpcException>(node.SyncAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.StartsWith("the server refuses the agent: ", node.Session.Refusal, StringComparison.Ordinal);
        Assert.NotNull(node.Cache.Resolve("pid:1", Uid1000));
    }

    [Fact]
    public async Task MintJwtSvid_ForHeldIdentity_ValidatesWithServerBundle()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token));
        await node.SyncAsync();
        var identity = node.Cache.Resolve("pid:1", Uid1000)!;
        var id = SpiffeId.Parse("spiffe://acme.corp/web");

        var jwts = await node.Cache.MintJwtSvidsAsync(identity, [id], ["payments"], CancellationToken.None);

        var validated = new JwtSvidValidator().Validate(Assert.Single(jwts).Token, "payments", BundleSet.Empty.With(await server.BundleAsync()));
        Assert.Equal(id, validated.Id);
        var again = await node.Cache.MintJwtSvidsAsync(identity, [id], ["payments"], CancellationToken.None);
        Assert.Equal(jwts[0].Token, again[0].Token);
    }
}
