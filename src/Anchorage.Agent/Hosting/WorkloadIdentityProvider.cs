using System.Globalization;
using System.Net.Sockets;
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
/// sock_diag and /proc/&lt;pid&gt;/fd), attested on every call by the
/// <see cref="IWorkloadAttestor"/>, then looked up in the <see cref="IWorkloadCache"/> under the
/// caller key <c>uid:&lt;uid&gt;</c>. A pidfd is held only while a call attests its process.
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
    private readonly Node.UsageRecorder? _usage;

    /// <summary>Creates the provider; <paramref name="usage"/>, when given, counts the JWT-SVIDs validated per federated trust domain.</summary>
    public WorkloadIdentityProvider(
        IWorkloadCache cache, IWorkloadAttestor attestor, AgentMetrics metrics, ILogger<WorkloadIdentityProvider>? logger = null, Node.UsageRecorder? usage = null)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(attestor);
        ArgumentNullException.ThrowIfNull(metrics);
        _cache = cache;
        _attestor = attestor;
        _metrics = metrics;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _usage = usage;
    }

    /// <summary>
    /// The caller key of an attested process: <c>uid:&lt;uid&gt;</c>. The Workload API counts open
    /// streams by it and the caller's default SPIFFE ID, so starting more processes of the same
    /// workload does not buy more streams.
    /// </summary>
    public static string CallerKey(PeerProcess peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return string.Create(CultureInfo.InvariantCulture, $"uid:{peer.UserId}");
    }

    /// <inheritdoc />
    /// <exception cref="RpcException">Unavailable: the agent ran out of a resource (file descriptors,
    /// memory) while attesting; the caller may retry. Never PermissionDenied for that.</exception>
    public async ValueTask<WorkloadIdentity?> ResolveAsync(ServerCallContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var feature = context.GetHttpContext().Features.Get<WorkloadPeerFeature>();
        if (feature is null || !feature.IsFound)
        {
            _metrics.AttestationFailures.Add(1);
            AgentHostingLog.NoPeer(_logger, feature?.Failure ?? "the connection has no peer");
            return null;
        }

        WorkloadAttestation attestation;
        PeerProcess? peer = null;
        try
        {
            // The pidfd is held for this attestation only.
            peer = feature.Pin();
            attestation = await _attestor.AttestAsync(peer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsResourceShortage(e))
        {
            AgentHostingLog.AttestationUnavailable(_logger, feature.ProcessId, e.Message);
            throw new RpcException(new Status(StatusCode.Unavailable, ResourceShortage));
        }
        catch (Exception e) when (e is WorkloadAttestationException or ObjectDisposedException or IOException or SocketException)
        {
            // The process went away (or the connection closed under the call): no identity.
            _metrics.AttestationFailures.Add(1);
            AgentHostingLog.AttestationFailed(_logger, feature.ProcessId, e.Message);
            return null;
        }
        finally
        {
            peer?.Dispose();
        }

        return _cache.Resolve(CallerKey(peer), attestation.Selectors);
    }

    /// <summary>The gRPC message when attestation could not run for lack of a resource.</summary>
    public const string ResourceShortage = "the agent is out of resources to attest the caller; retry later";

    // EMFILE, ENFILE, ENOMEM, ENOBUFS: the agent's own shortage says nothing about the caller.
    private static bool IsResourceShortage(Exception e)
    {
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case OutOfMemoryException:
                case SocketException { SocketErrorCode: SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable }:
                case IOException { HResult: Emfile or Enfile or Enomem }:
                case WorkloadAttestationException { Message: var m } when m.EndsWith("(errno 24)", StringComparison.Ordinal)
                    || m.EndsWith("(errno 23)", StringComparison.Ordinal) || m.EndsWith("(errno 12)", StringComparison.Ordinal):
                    return true;
            }
        }

        return false;
    }

    private const int Emfile = 24;
    private const int Enfile = 23;
    private const int Enomem = 12;

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken) =>
        _cache.MintJwtSvidsAsync(identity, spiffeIds, audience, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Counted as an inbound use of the token's trust domain (observed use, issue 15 item 3); the agent's own is not counted.</remarks>
    public void JwtSvidValidated(SpiffeId id) => _usage?.Record(id.TrustDomain, "inbound", allowed: true, Node.UsageRecorder.WorkloadApiListener);
}
