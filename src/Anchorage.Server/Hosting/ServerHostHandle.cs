using System.Net;
using Anchorage.Hosting.Lifetime;
using Anchorage.Server.Hosting.Internal;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting;

/// <summary>A started server: its bound endpoints (the real ports when 0 was configured) and how to stop it.</summary>
public sealed class ServerHostHandle : IRunningHost
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private int _stopped;

    internal ServerHostHandle(WebApplication app, ILogger logger, string serverId, IPEndPoint agentApi, IPEndPoint health, string adminSocketPath, IPEndPoint? bundleEndpoint)
    {
        _app = app;
        _logger = logger;
        ServerId = serverId;
        AgentApiEndpoint = agentApi;
        HealthEndpoint = health;
        AdminSocketPath = adminSocketPath;
        BundleEndpoint = bundleEndpoint;
    }

    /// <summary>The server id in use (configured, or read from or stored in <c>&lt;dataDir&gt;/server-id</c>).</summary>
    public string ServerId { get; }

    /// <summary>Where the agent API listens.</summary>
    public IPEndPoint AgentApiEndpoint { get; }

    /// <summary>Where <c>/live</c>, <c>/ready</c> and <c>/metrics</c> are served.</summary>
    public IPEndPoint HealthEndpoint { get; }

    /// <summary>Where the bundle endpoint listens; null when <c>federation.bundleEndpoint</c> is not configured.</summary>
    public IPEndPoint? BundleEndpoint { get; }

    /// <summary>The admin unix socket.</summary>
    public string AdminSocketPath { get; }

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Stops the listeners, letting requests in flight finish until <paramref name="cancellationToken"/> fires.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        HostingLog.Stopping(_logger, ServerId);
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        DeleteSocketFile();
    }

    /// <summary>Stops (if not yet) and releases the host.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private void DeleteSocketFile()
    {
        try
        {
            File.Delete(AdminSocketPath);
        }
        catch (IOException)
        {
            // Left behind: the next start removes it as stale.
        }
    }
}
