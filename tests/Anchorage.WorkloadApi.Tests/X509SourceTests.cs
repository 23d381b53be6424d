using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading.Channels;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing.Workload;
using Anchorage.WorkloadApi.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.WorkloadApi.Tests;

public sealed class X509SourceTests
{
    private static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 4.3")]
    public async Task Updated_ProviderPublishesNewSnapshot_FiresAndNewSvidVisible()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await using var client = server.NewClient();
        await using var source = await X509Source.CreateAsync(client, cancellationToken: Timeout);
        var updated = Channel.CreateUnbounded<bool>();
        source.Updated += (_, _) => updated.Writer.TryWrite(true);
        Assert.Equal(server.Svid.Leaf.RawData, source.GetX509Svid().Leaf.RawData);

        var rotated = server.IssueSvid("/workload", "internal");
        server.Provider.Update([rotated], server.Bundles());
        await updated.Reader.ReadAsync(Timeout);

        Assert.Equal(rotated.Leaf.RawData, source.GetX509Svid().Leaf.RawData);
        Assert.True(source.TryGetX509Bundle(server.FederatedCa.TrustDomain, out _));
        Assert.False(source.TryGetX509Bundle(TrustDomain.Parse("unknown.test"), out _));
    }

    [Fact]
    public async Task GetX509Svid_BeforeFirstUpdate_Throws()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        server.Provider.Fail(Grpc.Core.StatusCode.PermissionDenied);
        await using var client = server.NewClient();
        await using var source = new X509Source(client);

        var ex = Assert.Throws<InvalidOperationException>(source.GetX509Svid);

        Assert.Equal("x509 source has no svid yet", ex.Message);
        Assert.False(source.TryGetX509Bundle(server.Ca.TrustDomain, out _));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5")]
    public async Task SpiffeTls_TwoX509Sources_AuthenticateEachOtherOverSslStream()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        var serverSvid = server.IssueSvid("/server", "server");
        server.Provider.Update([server.Svid, serverSvid], server.Bundles());
        await using var client = server.NewClient();
        await using var serverSource = await X509Source.CreateAsync(client, svids => svids.Single(s => s.Hint == "server"), Timeout);
        await using var clientSource = await X509Source.CreateAsync(client, cancellationToken: Timeout);

        var (serverPeer, clientPeer) = await HandshakeAsync(
            serverSource, Authorizer.Exact(server.Svid.Id), clientSource, Authorizer.Exact(serverSvid.Id), server.Time);

        Assert.Equal(server.Svid.Id, serverPeer);
        Assert.Equal(serverSvid.Id, clientPeer);

        // Negative: the client expects another server ID; same sources, same fixture.
        await Assert.ThrowsAnyAsync<AuthenticationException>(() => HandshakeAsync(
            serverSource, Authorizer.Exact(server.Svid.Id), clientSource, Authorizer.Exact(SpiffeId.Parse("spiffe://example.org/other")), server.Time));
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Workload_API 6.2.2")]
    public async Task JwtAndBundleSources_RealServer_HoldBundlesAndVerifyFetchedToken()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        await using var client = server.NewClient();
        await using var jwt = await JwtSource.CreateAsync(client, Timeout);
        await using var bundles = await BundleSource.CreateAsync(client, Timeout);

        var svid = await jwt.FetchJwtSvidAsync("db", cancellationToken: Timeout);
        var verified = new JwtSvidValidator(server.Time).Validate(svid.Token, "db", jwt);
        var viaBundleSource = new JwtSvidValidator(server.Time).Validate(svid.Token, "db", bundles);

        Assert.Equal(server.Svid.Id, verified.Id);
        Assert.Equal(server.Svid.Id, viaBundleSource.Id);
        Assert.True(bundles.TryGetX509Bundle(server.FederatedCa.TrustDomain, out var federated));
        Assert.True(federated.Contains(server.FederatedCa.Certificate));
        Assert.False(bundles.TryGetJwtBundle(server.FederatedCa.TrustDomain, out _));
    }

    [Fact]
    public async Task AddSpiffeWorkloadApi_Resolved_GivesSharedClientAndWorkingSources()
    {
        await using var server = await TestWorkloadApiServer.StartAsync();
        var services = new ServiceCollection();
        services.AddSpiffeWorkloadApi(o =>
        {
            o.Address = server.Address;
            o.TimeProvider = server.Time;
        });
        await using var provider = services.BuildServiceProvider();

        var source = provider.GetRequiredService<X509Source>();
        await source.WaitUntilUpdatedAsync(Timeout);

        Assert.Same(source, provider.GetRequiredService<IX509SvidSource>());
        Assert.Same(source, provider.GetRequiredService<IX509BundleSource>());
        Assert.Same(provider.GetRequiredService<JwtSource>(), provider.GetRequiredService<IJwtBundleSource>());
        Assert.Equal(server.Svid.Id, provider.GetRequiredService<IX509SvidSource>().GetX509Svid().Id);
        Assert.Equal(server.Address, provider.GetRequiredService<WorkloadApiClient>().Address.Text);
    }

    private static async Task<(SpiffeId ServerPeer, SpiffeId ClientPeer)> HandshakeAsync(
        X509Source serverSource, Authorizer serverAuthorizes, X509Source clientSource, Authorizer clientAuthorizes, TimeProvider time)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var tcpClient = new TcpClient();
        var connect = tcpClient.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, Timeout).AsTask();
        using var accepted = await listener.AcceptTcpClientAsync(Timeout);
        await connect;

        await using var serverStream = new SslStream(accepted.GetStream());
        await using var clientStream = new SslStream(tcpClient.GetStream());
        var serverTask = serverStream.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(serverSource, serverSource, serverAuthorizes, time), Timeout);
        var clientTask = clientStream.AuthenticateAsClientAsync(SpiffeTls.MtlsClient(clientSource, clientSource, clientAuthorizes, time), Timeout);
        try
        {
            await Task.WhenAll(serverTask, clientTask);
        }
        catch
        {
            // Surface the client's view if it failed, else the server's.
            if (clientTask.IsFaulted)
            {
                await clientTask;
            }

            throw;
        }

        return (SpiffeTls.PeerId(serverStream), SpiffeTls.PeerId(clientStream));
    }
}
