using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Agent.Node;
using Anchorage.Agent.Node.Internal;
using Anchorage.Agent.Policy;
using Anchorage.Foundation.Retry;
using Anchorage.Hosting.Health;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent;

/// <summary>
/// Composes an agent from its options: the node session (saved SVID or join-token attestation,
/// retried while the server is unreachable), the identity cache and its synchronizer, and the
/// host's listeners. The one place where the parts are wired together; <c>anchorage agent run</c>
/// and the tests use it.
/// </summary>
public static class AgentApp
{
    /// <summary>The logger category of the node lifecycle.</summary>
    public const string NodeLoggerCategory = "Anchorage.Agent.Node";

    /// <summary>The logger category of the identity cache.</summary>
    public const string CacheLoggerCategory = "Anchorage.Agent.Cache";

    /// <summary>The logger category of the communication policy sources.</summary>
    public const string PolicyLoggerCategory = "Anchorage.Agent.Policy";

    /// <summary>The longest wait between two attempts to reach the server at start.</summary>
    public static readonly TimeSpan StartMaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Starts an agent: returns once it holds its own SVID, tried one sync, and every listener is
    /// bound. The cache keeps syncing in the background until the agent is disposed.
    /// </summary>
    /// <exception cref="AgentStartException">The agent cannot get an identity (no SVID and no join token, token refused, no way to trust the server).</exception>
    /// <exception cref="IOException">A socket is served by another agent, or a listener cannot bind.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while the server was still unreachable.</exception>
    public static async Task<RunningAgent> StartAsync(
        AgentOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(time);
        var nodeLogger = loggerFactory.CreateLogger(NodeLoggerCategory);
        var cacheLogger = loggerFactory.CreateLogger(CacheLoggerCategory);
        var session = new NodeSession(options, new AgentStateStore(options.DataDir, options.TrustDomain), time, nodeLogger);
        WorkloadCache? cache = null;
        CacheSynchronizer? sync = null;
        AgentHostHandle? host = null;
        GateRuntime? gate = null;
        ConnectionAttributor? attribution = null;
        try
        {
            attribution = ConnectionAttributor.Start(options.KernelAttribution, nodeLogger);
            await StartSessionAsync(session, nodeLogger, time, cancellationToken).ConfigureAwait(false);
            cache = new WorkloadCache(options.TrustDomain, session, time, cacheLogger);
            var serverPolicy = new ServerPolicySource(loggerFactory.CreateLogger(PolicyLoggerCategory));
            var usage = new UsageRecorder(options.TrustDomain, time);
            sync = new CacheSynchronizer(session, cache, options.SyncInterval, time, cacheLogger, serverPolicy) { Usage = usage };
            var cacheForReadiness = cache;
            var attestor = new UnixWorkloadAttestor();
            host = await AgentHost.StartAsync(
                options,
                new AgentHostSetup
                {
                    Cache = cache,
                    Attestor = attestor,
                    Attribution = attribution,
                    TimeProvider = time,
                    Usage = usage,
                    Readiness = _ => ValueTask.FromResult(Readiness(session, cacheForReadiness)),
                },
                loggerFactory,
                cancellationToken).ConfigureAwait(false);
            if (options.Gate is { } gateOptions)
            {
                gate = await GateRuntime.StartAsync(gateOptions, cache, attestor, serverPolicy, loggerFactory, time, attribution, () => session.Svid, usage).ConfigureAwait(false);
            }

            var running = new RunningAgent(host, session, cache, sync, serverPolicy, gate, attribution) { Usage = usage };
            try
            {
                // One sync before StartAsync returns, so the first callers find their identities
                // (until it completes, /ready says so and callers without an SVID yet get PermissionDenied).
                await sync.SyncOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                // Logged by the synchronizer's loop on its next attempt; the agent serves once it succeeds.
            }

            running.StartSyncLoop();
            return running;
        }
        catch
        {
            if (gate is not null)
            {
                await gate.DisposeAsync().ConfigureAwait(false);
            }

            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }

            sync?.Dispose();
            cache?.Dispose();
            session.Dispose();
            attribution?.Dispose();
            throw;
        }
    }

    /// <summary>Runs an agent until <paramref name="cancellationToken"/> is cancelled (SIGINT/SIGTERM).</summary>
    public static async Task RunAsync(AgentOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        // The daemon's connection caps assume more descriptors than the usual soft limit of 1024.
        var (before, after) = DescriptorBudget.RaiseSoftLimit();
        var nodeLogger = loggerFactory.CreateLogger(NodeLoggerCategory);
        if (after != before)
        {
            AgentLog.DescriptorLimitRaised(nodeLogger, before, after);
        }

        var agent = await StartAsync(options, loggerFactory, time, cancellationToken).ConfigureAwait(false);
        await using (agent.ConfigureAwait(false))
        {
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown requested.
            }
        }
    }

    private static bool IsUntrustedServer(RpcException e)
    {
        for (var inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException)
            {
                return true;
            }
        }

        return false;
    }

    private static ReadinessStatus Readiness(NodeSession session, WorkloadCache cache) =>
        session.Refusal is { } refusal ? ReadinessStatus.NotReady(refusal)
        : !cache.HasBundle ? ReadinessStatus.NotReady("waiting for the first sync with the server")
        : ReadinessStatus.Ready;

    // The server may come up after the agent (boot order, outage): retry until it answers, with the
    // one backoff (1 s doubling to StartMaxRetryDelay, equal jitter, so a fleet restarted together spreads out).
    private static async Task StartSessionAsync(NodeSession session, ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), StartMaxRetryDelay, time);
        while (true)
        {
            var delay = backoff.Next();
            try
            {
                await session.StartAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RpcException e) when (IsUntrustedServer(e))
            {
                // Kept retrying: the server may be mid-rotation, or the operator fixing the bundle file.
                AgentLog.ServerNotTrusted(logger, delay);
            }
            catch (RpcException e) when (ServerErrors.IsTransient(e, cancellationToken))
            {
                AgentLog.ServerUnreachableAtStart(logger, e.StatusCode, e.Status.Detail, delay);
            }

            await backoff.DelayAsync(delay, cancellationToken).ConfigureAwait(false);
        }
    }
}
