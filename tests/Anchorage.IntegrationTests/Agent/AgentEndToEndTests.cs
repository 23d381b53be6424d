using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Grpc.Core;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>The composed agent (as <c>anchorage agent run</c> runs it) serving the Workload API against a real server.</summary>
public sealed class AgentEndToEndTests
{
    [Fact]
    public async Task FetchX509Svid_CallerWithEntry_GetsItsSvidThatVerifiesWithTheBundle()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token);

        using var call = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        Assert.True(await call.ResponseStream.MoveNext());
        var response = call.ResponseStream.Current;

        var wire = Assert.Single(response.Svids);
        Assert.Equal("spiffe://acme.corp/me", wire.SpiffeId);
        var svid = X509Svid.FromDer(wire.X509Svid.Span, wire.X509SvidKey.Span);
        var bundle = X509Bundle.FromDer(TestServer.Td, wire.Bundle.Span);
        Assert.Equal(svid.Id, new X509SvidVerifier().Verify(svid.Certificates, bundle).Id);
    }

    [Fact]
    public async Task FetchX509Svid_CallerWithoutEntry_PermissionDenied()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/other", "unix:uid:4242424");
        await using var agent = await TestAgent.StartAsync(server, token);

        using var call = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);

        // Positive control: the same caller, once an entry names its uid, is served.
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        using var again = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        Assert.True(await again.ResponseStream.MoveNext());
    }
}
