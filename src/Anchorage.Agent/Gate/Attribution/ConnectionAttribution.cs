using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Foundation.Audit;

namespace Anchorage.Agent.Gate.Attribution;

/// <summary>
/// The first step of every gate connection, outbound and inbound alike: find and pin the local
/// process (<see cref="IConnectionAttributor"/>), attest it, resolve its identity. Each failure
/// is a denial, audited here.
/// </summary>
internal sealed class ConnectionAttribution(
    IConnectionAttributor attributor, IWorkloadAttestor attestor, WorkloadCache cache, GateAudit audit, TimeSpan timeout)
{
    /// <summary>
    /// The attested process behind <paramref name="request"/> with its identity; null when there is
    /// none, audited as a denial from <paramref name="pending"/> (the connection's deny record so far).
    /// </summary>
    public async Task<AttributedProcess?> AttributeAsync(AttributionRequest request, AuditRecord pending, CancellationToken cancellationToken)
    {
        PeerProcess peer;
        try
        {
            peer = await attributor.FindAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (WorkloadAttestationException e)
        {
            audit.Deny(pending, request.Forward is null ? GateReasons.Unattested : GateReasons.NoListener, e.Message);
            return null;
        }

        WorkloadAttestation attestation;
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            attestation = await attestor.AttestAsync(peer, deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WorkloadAttestationException or OperationCanceledException or IOException)
        {
            audit.Deny(pending with { Process = LocalProcess.Unattested(peer) }, GateReasons.Unattested, e.Message);
            peer.Dispose();
            return null;
        }

        var local = LocalProcess.Attested(peer, attestation);
        var identity = cache.Resolve(local.CallerKey, local.Selectors);
        if (identity is null || identity.X509Svids.IsEmpty)
        {
            audit.Deny(pending with { Process = local.Audit }, GateReasons.Unattested, "no registration entry matches the process");
            local.Dispose();
            return null;
        }

        return new AttributedProcess(local, identity, pending with { Process = local.Audit, SpiffeId = identity.X509Svids[0].Id.ToString() });
    }

    /// <summary>
    /// Inbound, once <paramref name="forward"/> is dialed: null while <paramref name="process"/> is
    /// still the process listening there (alive, same executable, holding every listening socket); else why not.
    /// </summary>
    public string? ForwardOwnerChange(AttributedProcess process, System.Net.IPEndPoint forward) =>
        attributor.ListenerChange(process.Local.Peer, forward);
}
