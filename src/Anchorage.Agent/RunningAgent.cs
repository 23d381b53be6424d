using Anchorage.Agent.Cache;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Node;

namespace Anchorage.Agent;

/// <summary>A started agent: its host (listeners), node session, cache and background sync. Dispose to stop.</summary>
public sealed class RunningAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _syncLoop;

    internal RunningAgent(AgentHostHandle host, NodeSession session, WorkloadCache cache, CacheSynchronizer sync)
    {
        Host = host;
        Session = session;
        Cache = cache;
        Sync = sync;
        var metrics = host.Metrics;
        sync.SvidIssued = rotated =>
        {
            metrics.SvidsIssued.Add(1);
            if (rotated)
            {
                metrics.SvidRotations.Add(1);
            }
        };
        sync.SyncFailed = () => metrics.SyncFailures.Add(1);
        _syncLoop = Task.Run(() => sync.RunAsync(_stop.Token));
    }

    /// <summary>The listeners (sockets, ports) and services.</summary>
    public AgentHostHandle Host { get; }

    /// <summary>The agent's standing with its server.</summary>
    public NodeSession Session { get; }

    /// <summary>The identities this node holds.</summary>
    public WorkloadCache Cache { get; }

    /// <summary>The background synchronizer.</summary>
    public CacheSynchronizer Sync { get; }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Host.DisposeAsync().ConfigureAwait(false);
        await _syncLoop.ConfigureAwait(false);
        Sync.Dispose();
        Cache.Dispose();
        Session.Dispose();
        _stop.Dispose();
    }
}
