using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Api;

/// <summary><c>GetServerInfo</c> on a real server's admin socket: the trust domain and the bundle endpoint's bound address.</summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AdminServerInfoTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task GetServerInfo_BundleEndpointOnPortZero_ListenIsTheBoundPort()
    {
        var endpoint = new BundleEndpointOptions { Listen = new HostPort("127.0.0.1", 0), Profile = BundleEndpointProfile.HttpsSpiffe };

        var (info, bound) = await GetServerInfoAsync(endpoint);

        Assert.Equal("acme.corp", info.TrustDomain);
        Assert.Equal("https_spiffe", info.BundleEndpoint.Profile);
        Assert.NotEqual(0, bound!.Port);
        Assert.Equal($"127.0.0.1:{bound.Port}", info.BundleEndpoint.Listen);
    }

    [Fact]
    public async Task GetServerInfo_NoBundleEndpoint_Unset()
    {
        var (info, bound) = await GetServerInfoAsync(null);

        Assert.Null(bound);
        Assert.Equal("acme.corp", info.TrustDomain);
        Assert.Null(info.BundleEndpoint);
    }

    private async Task<(ServerInfo Info, System.Net.IPEndPoint? Bound)> GetServerInfoAsync(BundleEndpointOptions? endpoint)
    {
        var options = new ServerOptions
        {
            TrustDomain = TrustDomain.Parse("acme.corp"),
            DataDir = Path.Join(_dir.Path, "data"),
            Listen = new ListenerOptions
            {
                AgentApi = new HostPort("127.0.0.1", 0),
                Health = new HostPort("127.0.0.1", 0),
                AdminSocket = Path.Join(_dir.Path, "admin.sock"),
            },
            Federation = new FederationOptions { BundleEndpoint = endpoint },
        };
        await using var server = await ServerApp.StartAsync(options, NullLoggerFactory.Instance, _time, CancellationToken.None);
        var handler = TempSocket.HttpHandler(server.Host.AdminSocketPath);
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        return (await new AdminApi.AdminApiClient(channel).GetServerInfoAsync(new GetServerInfoRequest()), server.Host.BundleEndpoint);
    }
}
