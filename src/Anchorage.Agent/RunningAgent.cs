using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Node;
using Anchorage.Agent.Policy;

namespace Anchorage.Agent;

/// <summary>A started agent: its host (listeners), node session, cache and background sync. Dispose to stop.</summary>
public sealed class RunningAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly GateRuntime? _gate;
    private readonly ConnectionAttributor? _attribution;
    private Task _syncLoop = Task.CompletedTask;

    internal RunningAgent(
        AgentHostHandle host, NodeSession session, WorkloadCache cache, CacheSynchronizer sync, ServerPolicySource serverPolicy, GateRuntime? gate = null,
        ConnectionAttributor? attribution = null)
    {
        _attribution = attribution;
        ServerPolicy = serverPolicy;
        _gate = gate;
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
    }

    /// <summary>The listeners (sockets, ports) and services.</summary>
    public AgentHostHandle Host { get; }

    /// <summary>Observed use of federated trust domains, reported to the server at each sync (issue 15 item 3).</summary>
    public UsageRecorder? Usage { get; internal init; }

    /// <summary>The agent's standing with its server.</summary>
    public NodeSession Session { get; }

    /// <summary>The identities this node holds.</summary>
    public WorkloadCache Cache { get; }

    /// <summary>The gate (agent.yaml <c>gate:</c>); null when none is configured.</summary>
    public GateHost? Gate => _gate?.Host;

    /// <summary>How connections are attributed to processes (eBPF or fallback).</summary>
    public AttributionMode AttributionMode => _attribution?.Mode ?? AttributionMode.Fallback;

    /// <summary>The background synchronizer.</summary>
    public CacheSynchronizer Sync { get; }

    /// <summary>The communication policy the server distributes, kept current by <see cref="Sync"/>.</summary>
    public ServerPolicySource ServerPolicy { get; }

    /// <summary>Starts the background sync loop (once).</summary>
    internal void StartSyncLoop()
    {
        if (_syncLoop.IsCompleted)
        {
            _syncLoop = Task.Run(() => Sync.RunAsync(_stop.Token));
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_gate is not null)
        {
            await _gate.DisposeAsync().ConfigureAwait(false);
        }

        await Host.DisposeAsync().ConfigureAwait(false);
        await _syncLoop.ConfigureAwait(false);
        Sync.Dispose();
        Cache.Dispose();
        Session.Dispose();
        _attribution?.Dispose();
        _stop.Dispose();
    }
}
