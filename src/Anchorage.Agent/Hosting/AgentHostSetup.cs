using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Hosting.Health;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.Agent.Hosting;

/// <summary>The parts of the agent that plug into the host: the identity cache, the attestor, readiness and the admin API.</summary>
public sealed class AgentHostSetup
{
    /// <summary>The identity cache the Workload API reads. Required.</summary>
    public required IWorkloadCache Cache { get; init; }

    /// <summary>Attests Workload API callers (e.g. <see cref="UnixWorkloadAttestor"/>). Required.</summary>
    public required IWorkloadAttestor Attestor { get; init; }

    /// <summary>
    /// Finds the process behind each accepted Workload API connection (eBPF records or the
    /// fallback). Default <see cref="ConnectionAttributor.FallbackOnly"/>. Not disposed by the host.
    /// </summary>
    public ConnectionAttributor Attribution { get; init; } = ConnectionAttributor.FallbackOnly;

    /// <summary>The clock registered for the services and used for JWT-SVID validation. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Answers <c>/ready</c> and the gRPC health service. Default: ready as soon as the listeners
    /// are bound. Exceptions count as not ready (<c>readiness check failed</c>).
    /// </summary>
    public Func<CancellationToken, ValueTask<ReadinessStatus>> Readiness { get; init; } =
        static _ => ValueTask.FromResult(ReadinessStatus.Ready);

    /// <summary>
    /// The metrics instance to register, when the composition root created it before the host
    /// (so the cache can count on it); null: the host creates one. Either way it is on
    /// <see cref="AgentHostHandle.Metrics"/>.
    /// </summary>
    public AgentMetrics? Metrics { get; init; }

    /// <summary>Counts JWT-SVIDs the Workload API validates per federated trust domain (observed use); null: not counted.</summary>
    public Node.UsageRecorder? Usage { get; init; }

    /// <summary>Registers services (admin API dependencies).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    /// <summary>Maps the admin API; reachable on the admin socket only, by admin uids only.</summary>
    public Action<IEndpointRouteBuilder>? MapAdminApi { get; init; }
}
