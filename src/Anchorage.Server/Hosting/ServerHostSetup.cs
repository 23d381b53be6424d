using Anchorage.Hosting.Health;
using Anchorage.Spiffe.Bundles;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.Server.Hosting;

/// <summary>
/// The parts of the server that plug into the host: the agent API's TLS, the readiness check
/// and the gRPC services of each listener. The CA, datastore and APIs supply these as they arrive.
/// </summary>
public sealed class ServerHostSetup
{
    /// <summary>The default of <see cref="MaxAgentConnectionsPerPeer"/>: 32.</summary>
    public const int DefaultMaxAgentConnectionsPerPeer = 32;

    /// <summary>The default of <see cref="AgentRequestBodyDeadline"/>: 30 s.</summary>
    public static readonly TimeSpan DefaultAgentRequestBodyDeadline = TimeSpan.FromSeconds(30);

    /// <summary>The agent API listener's certificate and client-certificate check. Required.</summary>
    public required IServerTlsProvider AgentTls { get; init; }

    /// <summary>
    /// Answers <c>/ready</c> and the gRPC health service. Default: ready as soon as the listeners
    /// are bound. Exceptions count as not ready.
    /// </summary>
    public Func<CancellationToken, ValueTask<ReadinessStatus>> Readiness { get; init; } =
        static _ => ValueTask.FromResult(ReadinessStatus.Ready);

    /// <summary>Registers services (gRPC service dependencies, datastore, CA).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    /// <summary>Maps the agent API (e.g. <c>endpoints.MapGrpcService&lt;T&gt;()</c>); reachable on the agent listener only.</summary>
    public Action<IEndpointRouteBuilder>? MapAgentApi { get; init; }

    /// <summary>Maps the admin API; reachable on the admin socket only, by admin uids only.</summary>
    public Action<IEndpointRouteBuilder>? MapAdminApi { get; init; }

    /// <summary>
    /// The certificate of the bundle endpoint listener; required when <c>federation.bundleEndpoint</c>
    /// is configured (<see cref="SvidCertificateProvider"/> for https_spiffe, <see cref="ServingCertificateFiles"/> for https_web).
    /// </summary>
    public IServerCertificateProvider? BundleEndpointCertificate { get; init; }

    /// <summary>The web console's HTTPS certificate; required when <c>console.servingCert</c> is configured (<see cref="ServingCertificateFiles"/>).</summary>
    public IServerCertificateProvider? ConsoleCertificate { get; init; }

    /// <summary>
    /// The trust bundle the bundle endpoint serves, asked for on every request so the answer is
    /// always the latest published bundle; required when <c>federation.bundleEndpoint</c> is configured.
    /// </summary>
    public Func<CancellationToken, ValueTask<SpiffeBundle>>? TrustBundle { get; init; }

    /// <summary>
    /// The most connections one peer address may hold open on the agent API listener at once; more are
    /// closed before TLS. Default 32: an agent needs one, a NAT gateway in front of many agents a few.
    /// </summary>
    public int MaxAgentConnectionsPerPeer { get; init; } = DefaultMaxAgentConnectionsPerPeer;


    /// <summary>
    /// How long an agent API request may take to send its whole request body (every agent call sends
    /// one message and ends its request stream); a stalled sender is aborted then. Default 30 s.
    /// </summary>
    public TimeSpan AgentRequestBodyDeadline { get; init; } = DefaultAgentRequestBodyDeadline;

    /// <summary>The clock registered for the services. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
