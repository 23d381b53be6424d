using System.Net.Sockets;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;
using Anchorage.Testing.Workload;
using Anchorage.Testing.X509;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Anchorage.WorkloadApi.Server.Tests;

/// <summary>
/// A real Kestrel host serving the Workload API on a temp Unix socket, with a
/// <see cref="TestIdentityProvider"/> holding an SVID for spiffe://example.org/workload issued by
/// a <see cref="TestCa"/>, and a federated bundle for federated.test.
/// </summary>
public sealed class WorkloadApiHost : IAsyncDisposable
{
    private readonly TempDir _dir = new();
    private readonly WebApplication _app;
    private readonly GrpcChannel _channel;

    private WorkloadApiHost(int maxStreams)
    {
        Time = TestClock.Create();
        Ca = TestCa.CreateRoot("example.org");
        FederatedCa = TestCa.CreateRoot("federated.test");
        Provider = new TestIdentityProvider(Ca.TrustDomain, Time, TestIdentityProvider.NewJwtKey("jwt-1"));
        Svid = IssueSvid("/workload", "internal");
        Provider.Update([Svid], Bundles());
        SocketPath = Path.Combine(_dir.Path, "workload.sock");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(SocketPath, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton<IWorkloadIdentityProvider>(Provider);
        builder.Services.AddWorkloadApi(o =>
        {
            o.MaxStreamsPerCaller = maxStreams;
            o.TimeProvider = Time;
        });
        _app = builder.Build();
        _app.MapWorkloadApi();

        var socketPath = SocketPath;
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = TempSocket.HttpHandler(socketPath),
        });
        Client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(_channel);
    }

    public Microsoft.Extensions.Time.Testing.FakeTimeProvider Time { get; }

    public TestCa Ca { get; }

    public TestCa FederatedCa { get; }

    public TestIdentityProvider Provider { get; }

    public X509Svid Svid { get; }

    public string SocketPath { get; }

    public SpiffeWorkloadAPI.SpiffeWorkloadAPIClient Client { get; }

    public WorkloadApiService Service => _app.Services.GetRequiredService<WorkloadApiService>();

    /// <summary>The metadata every conforming client sends.</summary>
    public static Metadata Header => new() { { "workload.spiffe.io", "true" } };

    public static async Task<WorkloadApiHost> StartAsync(int maxStreams = WorkloadApiOptions.DefaultMaxStreamsPerCaller)
    {
        var host = new WorkloadApiHost(maxStreams);
        await host._app.StartAsync();
        return host;
    }

    public X509Svid IssueSvid(string path, string? hint = null)
    {
        var leaf = Ca.IssueLeaf(new TestLeafOptions { Path = path });
        return new X509Svid(leaf.Chain, leaf.Key, hint);
    }

    /// <summary>Own X.509 + JWT bundle and the federated X.509 bundle.</summary>
    public BundleSet Bundles() => BundleSet.Empty
        .With(Ca.Bundle())
        .With(new JwtBundle(Ca.TrustDomain, [Provider.JwtKey.ToAuthority()]))
        .With(FederatedCa.Bundle());

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Provider.Dispose();
        _dir.Dispose();
    }
}
