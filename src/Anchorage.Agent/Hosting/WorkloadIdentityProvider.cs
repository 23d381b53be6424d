using System.Globalization;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Agent.Hosting;

/// <summary>
/// Tells the Workload API who is calling: the process the host found for the call's connection
/// (unix socket: <c>SO_PEERCRED</c> and a pidfd; loopback TCP: the socket's owner from
/// /proc/net/tcp{,6} and /proc/&lt;pid&gt;/fd), attested on every call by the
/// <see cref="IWorkloadAttestor"/>, then looked up in the <see cref="IWorkloadCache"/> under the
/// caller key <c>pid:&lt;pid&gt;:&lt;start time&gt;</c>.
/// </summary>
/// <remarks>
/// A call without a found peer, or whose peer cannot be attested (it exited, its pid was reused),
/// gets no identity, hence PermissionDenied (SPIFFE Workload Endpoint §6); such failures are
/// logged at debug level with the pid and counted in <see cref="AgentMetrics.AttestationFailures"/>.
/// </remarks>
public sealed class WorkloadIdentityProvider : IWorkloadIdentityProvider
{
    private readonly IWorkloadCache _cache;
    private readonly IWorkloadAttestor _attestor;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;

    /// <summary>Creates the provider.</summary>
    public WorkloadIdentityProvider(IWorkloadCache cache, IWorkloadAttestor attestor, AgentMetrics metrics, ILogger<WorkloadIdentityProvider>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(attestor);
        ArgumentNullException.ThrowIfNull(metrics);
        _cache = cache;
        _attestor = attestor;
        _metrics = metrics;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The cache key of an attested process: <c>pid:&lt;pid&gt;:&lt;start time&gt;</c>.</summary>
    public static string CallerKey(PeerProcess peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return string.Create(CultureInfo.InvariantCulture, $"pid:{peer.ProcessId}:{peer.StartTime}");
    }

    /// <inheritdoc />
    public async ValueTask<WorkloadIdentity?> ResolveAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var feature = context.GetHttpContext().Features.Get<WorkloadPeerFeature>();
        if (feature?.Process is not { } peer)
        {
            _metrics.AttestationFailures.Add(1);
            AgentHostingLog.NoPeer(_logger, feature?.Failure ?? "the connection has no peer");
            return null;
        }

        WorkloadAttestation attestation;
        try
        {
            attestation = await _attestor.AttestAsync(peer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WorkloadAttestationException or ObjectDisposedException or IOException)
        {
            // The process went away (or the connection closed under the call): no identity.
            _metrics.AttestationFailures.Add(1);
            AgentHostingLog.AttestationFailed(_logger, peer.ProcessId, e.Message);
            return null;
        }

        return _cache.Resolve(CallerKey(peer), attestation.Selectors);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken) =>
        _cache.MintJwtSvidsAsync(identity, spiffeIds, audience, cancellationToken);
}
