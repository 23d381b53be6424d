using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Workload;
using Anchorage.Testing.X509;
using Anchorage.WorkloadApi.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.WorkloadApi.Tests.Fixtures;

/// <summary>
/// A real Workload API server (Kestrel, AddWorkloadApi/MapWorkloadApi) on a temp Unix socket.
/// The caller holds spiffe://example.org/workload (hint "internal") issued by a <see cref="TestCa"/>,
/// and sees its own X.509 + JWT bundles plus the X.509 bundle of federated.test. The server can be
/// stopped and started again on the same socket.
/// </summary>
public sealed class TestWorkloadApiServer : IAsyncDisposable
{
    private readonly TempDir _dir = new();
    private WebApplication? _app;

    private TestWorkloadApiServer()
    {
        Time = TestClock.Create();
        Ca = TestCa.CreateRoot("example.org");
        FederatedCa = TestCa.CreateRoot("federated.test");
        Provider = new TestIdentityProvider(Ca.TrustDomain, Time);
        Svid = IssueSvid("/workload", "internal");
        Provider.Update([Svid], Bundles());
        SocketPath = Path.Combine(_dir.Path, "api.sock");
    }

    public FakeTimeProvider Time { get; }

    public TestCa Ca { get; }

    public TestCa FederatedCa { get; }

    public TestIdentityProvider Provider { get; }

    public X509Svid Svid { get; }

    public string SocketPath { get; }

    public string Address => "unix://" + SocketPath;

    public string Dir => _dir.Path;

    public static async Task<TestWorkloadApiServer> StartAsync()
    {
        var server = new TestWorkloadApiServer();
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        File.Delete(SocketPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(SocketPath, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton<IWorkloadIdentityProvider>(Provider);
        builder.Services.AddWorkloadApi(o => o.TimeProvider = Time);
        // gRPC health answers Unknown while no check is registered; the agent registers its own.
        builder.Services.AddGrpcHealthChecks().AddCheck("workload-api", () => HealthCheckResult.Healthy());
        _app = builder.Build();
        _app.MapWorkloadApi();
        _app.MapGrpcHealthChecksService();
        await _app.StartAsync();
    }

    public async Task StopAsync()
    {
        if (_app is not null)
        {
            // An already-cancelled token: drop open streams at once, as a crashed agent would.
            await _app.StopAsync(new CancellationToken(canceled: true));
            await _app.DisposeAsync();
            _app = null;
        }
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

    public WorkloadApiClient NewClient(Action<WorkloadApiClientOptions>? configure = null)
    {
        var options = new WorkloadApiClientOptions { Address = Address, TimeProvider = Time };
        configure?.Invoke(options);
        return new WorkloadApiClient(options);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Provider.Dispose();
        _dir.Dispose();
    }
}
