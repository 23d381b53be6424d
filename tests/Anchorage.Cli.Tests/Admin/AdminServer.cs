using Anchorage.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Anchorage.Cli.Tests.Admin;

/// <summary>Hosts a <see cref="FakeAdminApi"/> with Kestrel on a unix socket in a temp directory.</summary>
public sealed class AdminServer : IAsyncDisposable
{
    private readonly TempDir _dir;
    private readonly WebApplication _app;

    private AdminServer(TempDir dir, WebApplication app, FakeAdminApi api)
    {
        _dir = dir;
        _app = app;
        Api = api;
        SocketPath = Path.Combine(dir.Path, "admin.sock");
    }

    public FakeAdminApi Api { get; }

    public string SocketPath { get; }

    public static async Task<AdminServer> StartAsync()
    {
        var dir = new TempDir();
        var api = new FakeAdminApi();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.ListenUnixSocket(Path.Combine(dir.Path, "admin.sock"), listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(api);
        var app = builder.Build();
        app.MapGrpcService<FakeAdminApi>();
        await app.StartAsync();
        return new AdminServer(dir, app, api);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _dir.Dispose();
    }
}
