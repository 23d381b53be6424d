using System.Net;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Hosting.Lifetime;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Hosting;

/// <summary>A started agent host: its bound endpoints (the real ports when 0 was configured) and how to stop it.</summary>
public sealed class AgentHostHandle : IRunningHost
{
    private readonly WebApplication _app;
    private readonly ILogger _logger;
    private int _stopped;

    internal AgentHostHandle(
        WebApplication app, ILogger logger, string workloadSocketPath, IPEndPoint? tcpEndPoint, IPEndPoint healthEndPoint, string adminSocketPath, AgentMetrics metrics)
    {
        _app = app;
        _logger = logger;
        WorkloadSocketPath = workloadSocketPath;
        TcpEndPoint = tcpEndPoint;
        HealthEndPoint = healthEndPoint;
        AdminSocketPath = adminSocketPath;
        Metrics = metrics;
    }

    /// <summary>The Workload API unix socket.</summary>
    public string WorkloadSocketPath { get; }

    /// <summary>The Workload API loopback TCP listener; null when not configured.</summary>
    public IPEndPoint? TcpEndPoint { get; }

    /// <summary>Where <c>/live</c>, <c>/ready</c> and <c>/metrics</c> are served.</summary>
    public IPEndPoint HealthEndPoint { get; }

    /// <summary>The admin unix socket.</summary>
    public string AdminSocketPath { get; }

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The agent's instruments.</summary>
    public AgentMetrics Metrics { get; }

    /// <summary>Stops the listeners, letting requests in flight finish until <paramref name="cancellationToken"/> fires, and removes the socket files.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        AgentHostingLog.Stopping(_logger);
        await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        DeleteSocketFile(WorkloadSocketPath);
        DeleteSocketFile(AdminSocketPath);
    }

    /// <summary>Stops (if not yet) and releases the host.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void DeleteSocketFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left behind: the next start removes it as stale.
        }
    }
}
