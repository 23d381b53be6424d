using System.Threading.Channels;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.Workload;
using Anchorage.WorkloadApi.Tests.Fixtures;
using Grpc.Core;

namespace Anchorage.WorkloadApi.Tests;

public sealed class WorkloadApiClientTests
{
    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 5.2.1")]
    public async Task FetchX509Context_RealServer_GivesSvidsDefaultFirstAndFederatedBundles()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        var second = server.IssueSvid("/second", "external");
        server.Provider.Update([server.Svid, second], server.Bundles());
        await using var client = server.NewClient();

        var context = await client.FetchX509ContextAsync(Timeout);

        Assert.Equal(["spiffe://example.org/workload", "spiffe://example.org/second"], context.Svids.Select(s => s.Id.ToString()));
        Assert.Equal("internal", context.DefaultSvid.Hint);
        Assert.Equal("external", context.Svids[1].Hint);
        Assert.Equal(server.Svid.Leaf.RawData, context.DefaultSvid.Leaf.RawData);
        Assert.Equal(["example.org", "federated.test"], context.Bundles.X509Bundles.Keys.Select(t => t.Name).Order());
        Assert.True(context.Bundles.X509Bundles[server.FederatedCa.TrustDomain].Contains(server.FederatedCa.Certificate));
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 5.2.2")]
    public async Task FetchX509Bundles_RealServer_GivesEveryTrustDomain()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await using var client = server.NewClient();

        var bundles = await client.FetchX509BundlesAsync(Timeout);

        Assert.True(bundles.X509Bundles[server.Ca.TrustDomain].Contains(server.Ca.Certificate));
        Assert.True(bundles.X509Bundles[server.FederatedCa.TrustDomain].Contains(server.FederatedCa.Certificate));
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 6.2.1")]
    public async Task FetchJwtSvid_RealServer_GivesTokenForAudienceAndRequestedId()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        var second = server.IssueSvid("/second", "external");
        server.Provider.Update([server.Svid, second], server.Bundles());
        await using var client = server.NewClient();

        var svid = await client.FetchJwtSvidAsync("db", cancellationToken: Timeout);
        var all = await client.FetchJwtSvidsAsync(["db", "cache"], cancellationToken: Timeout);
        var chosen = await client.FetchJwtSvidAsync("db", second.Id, Timeout);

        Assert.Equal("spiffe://example.org/workload", svid.Id.ToString());
        Assert.Equal<string>(["db"], svid.Audience);
        Assert.Equal("internal", svid.Hint);
        Assert.Equal(["spiffe://example.org/workload", "spiffe://example.org/second"], all.Select(s => s.Id.ToString()));
        Assert.Equal<string>(["db", "cache"], all[0].Audience);
        Assert.Equal(second.Id, chosen.Id);

        // The token verifies with the JWT bundle the same server hands out.
        var bundles = await client.FetchJwtBundlesAsync(Timeout);
        var verified = new JwtSvidValidator(server.Time).Validate(svid.Token, "db", bundles);
        Assert.Equal(svid.Id, verified.Id);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 6.2.2")]
    public async Task FetchJwtBundles_RealServer_GivesJwtAuthorities()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await using var client = server.NewClient();

        var bundles = await client.FetchJwtBundlesAsync(Timeout);

        Assert.Equal([server.Ca.TrustDomain], bundles.JwtBundles.Keys);
        Assert.True(bundles.JwtBundles[server.Ca.TrustDomain].TryGetAuthority("jwt-1", out _));
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 6.2.3")]
    public async Task ValidateJwtSvid_ValidAndForeignAudience_AcceptsThenSurfacesInvalidArgument()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await using var client = server.NewClient();
        var token = (await client.FetchJwtSvidAsync("db", cancellationToken: Timeout)).Token;

        var valid = await client.ValidateJwtSvidAsync(token, "db", Timeout);
        var ex = await Assert.ThrowsAsync<RpcException>(() => client.ValidateJwtSvidAsync(token, "other", Timeout));

        Assert.Equal("spiffe://example.org/workload", valid.Id.ToString());
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 6")]
    public async Task WatchX509Contexts_PermissionDenied_BacksOffExponentiallyThenSucceeds()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        server.Provider.Fail(StatusCode.PermissionDenied);
        var retries = Channel.CreateUnbounded<(Exception Error, TimeSpan Delay)>();
        await using var client = server.NewClient(o => o.RetryScheduled = (e, d) => retries.Writer.TryWrite((e, d)));
        await using var source = new X509Source(client);

        var first = await retries.Reader.ReadAsync(Timeout);
        Assert.Equal(StatusCode.PermissionDenied, Assert.IsType<RpcException>(first.Error).StatusCode);
        // Equal jitter (the one Backoff): between half and all of the 1 s, then of the 2 s step.
        Assert.InRange(first.Delay, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1));
        Assert.False(source.WaitUntilUpdatedAsync(CancellationToken.None).IsCompleted);

        server.Time.Advance(first.Delay);
        var second = await retries.Reader.ReadAsync(Timeout);
        Assert.InRange(second.Delay, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));

        server.Provider.Update([server.Svid], server.Bundles());
        server.Time.Advance(second.Delay);
        await source.WaitUntilUpdatedAsync(Timeout);

        Assert.Equal(server.Svid.Id, source.GetX509Svid().Id);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 6")]
    public async Task WatchX509Contexts_InvalidArgument_IsNotRetried()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        server.Provider.Fail(StatusCode.InvalidArgument);
        var retried = 0;
        await using var client = server.NewClient(o => o.RetryScheduled = (_, _) => Interlocked.Increment(ref retried));

        var ex = await Assert.ThrowsAsync<RpcException>(() => X509Source.CreateAsync(client, cancellationToken: Timeout));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(0, retried);
        Assert.Equal(1, server.Provider.Calls);

        // Positive control: the same client and server, the failure switched off.
        server.Provider.Update([server.Svid], server.Bundles());
        await using var source = await X509Source.CreateAsync(client, cancellationToken: Timeout);
        Assert.Equal(server.Svid.Id, source.GetX509Svid().Id);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_Endpoint 6")]
    public async Task X509Source_ServerRestarts_ReconnectsAndSeesNewSvid()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        var retries = Channel.CreateUnbounded<TimeSpan>();
        await using var client = server.NewClient(o => o.RetryScheduled = (_, d) => retries.Writer.TryWrite(d));
        await using var source = await X509Source.CreateAsync(client, cancellationToken: Timeout);
        var updated = Channel.CreateUnbounded<SpiffeId>();
        source.Updated += (_, _) => updated.Writer.TryWrite(source.GetX509Svid().Id);

        await server.StopAsync();
        var delay = await retries.Reader.ReadAsync(Timeout);
        var rotated = server.IssueSvid("/after-restart");
        server.Provider.Update([rotated], server.Bundles());
        await server.StartAgainAsync();
        server.Time.Advance(delay);

        Assert.Equal(rotated.Id, await updated.Reader.ReadAsync(Timeout));
        Assert.Equal(rotated.Leaf.RawData, source.GetX509Svid().Leaf.RawData);
    }

    [Fact]
    public async Task Call_NoServerOnSocket_SurfacesUnavailable()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await server.StopAsync();
        await using var client = server.NewClient();

        var ex = await Assert.ThrowsAsync<RpcException>(() => client.FetchX509ContextAsync(Timeout));

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
    }
}
