using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Attestation.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Attestation;

/// <summary>
/// Attested agents: recorded after the CA signs their first SVID, checked on every agent call and
/// renewal, evicted (must attest again with a new token) or banned (never again).
/// </summary>
/// <remarks>
/// Certificate serials are hex; they are compared and stored normalized (lowercase, no leading
/// zeros), so <c>00AB</c> and <c>ab</c> are the same serial. Only the agent's current SVID and the
/// one its last renewal signed (until first used, which retires the current one) are accepted: a
/// copied older SVID of the same agent is refused.
/// </remarks>
public sealed class NodeService
{
    private readonly IDataStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the service.</summary>
    public NodeService(IDataStore store, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _time = timeProvider;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>
    /// Records an agent that has just attested and got its SVID: creates the node, or, for a node that
    /// attested before and is not banned, replaces its SVID and selectors.
    /// </summary>
    /// <exception cref="ArgumentException">Empty ID or type, or a serial that is not hex.</exception>
    /// <exception cref="AttestationException"><see cref="AttestationFailure.Banned"/>: <c>agent &lt;id&gt; is banned</c>.</exception>
    public async Task<AttestedNode> RecordAttestationAsync(
        SpiffeId agentId,
        string attestationType,
        string certSerial,
        DateTimeOffset certNotAfter,
        ImmutableArray<Selector> selectors,
        CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agentId);
        ArgumentException.ThrowIfNullOrEmpty(attestationType);
        var serial = NormalizeSerial(certSerial, nameof(certSerial));
        var node = new AttestedNode
        {
            SpiffeId = agentId,
            AttestationType = attestationType,
            CertSerial = serial,
            CertNotAfter = certNotAfter,
            Selectors = selectors.IsDefault ? [] : selectors,
        };

        // Create; if it exists (re-attestation, or a concurrent first attestation) replace unless banned.
        for (var attempt = 1; ; attempt++)
        {
            var existing = await _store.GetNodeAsync(agentId, cancellationToken).ConfigureAwait(false);
            if (existing is { Banned: true })
            {
                throw Refuse(agentId, AttestationFailure.Banned, $"agent {agentId} is banned");
            }

            try
            {
                if (existing is null)
                {
                    await _store.CreateNodeAsync(node, cancellationToken).ConfigureAwait(false);
                    break;
                }

                // Conditional on "not banned": a ban that lands between the read above and this write sticks.
                var result = await _store.ReattestNodeAsync(node, cancellationToken).ConfigureAwait(false);
                if (result == NodeUpdateResult.Banned)
                {
                    throw Refuse(agentId, AttestationFailure.Banned, $"agent {agentId} is banned");
                }

                if (result == NodeUpdateResult.NotFound)
                {
                    throw new DataStoreNotFoundException($"node \"{agentId}\" not found");
                }

                break;
            }
            catch (Exception ex) when (ex is DataStoreConflictException or DataStoreNotFoundException && attempt < 3)
            {
                // It appeared or vanished meanwhile: read again.
            }
        }

        AttestationLog.NodeAttested(_logger, agentId, attestationType, serial, certNotAfter);
        return await _store.GetNodeAsync(agentId, cancellationToken).ConfigureAwait(false) ?? node;
    }

    /// <summary>
    /// Checks an agent presenting its SVID (serial <paramref name="presentedSerial"/>): it must be
    /// attested, not banned, present its current SVID or the one its last renewal signed (pending),
    /// and the presented SVID must not have expired. The first call with the pending SVID makes it
    /// the current one; from then on the previous SVID is refused. Call it on every agent API
    /// request and before signing a renewal.
    /// </summary>
    /// <returns>The node record (after any promotion of the pending SVID).</returns>
    /// <exception cref="ArgumentException">Empty ID, or a serial that is not hex.</exception>
    /// <exception cref="AttestationException">
    /// <c>agent &lt;id&gt; is not attested (evicted or unknown)</c>, <c>agent &lt;id&gt; is banned</c>,
    /// <c>agent SVID serial &lt;serial&gt; is not the current one</c>, <c>agent &lt;id&gt; SVID has expired</c>.
    /// </exception>
    public async Task<AttestedNode> AuthenticateAsync(SpiffeId agentId, string presentedSerial, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agentId);
        var serial = NormalizeSerial(presentedSerial, nameof(presentedSerial));
        for (var attempt = 1; ; attempt++)
        {
            var node = await _store.GetNodeAsync(agentId, cancellationToken).ConfigureAwait(false)
                ?? throw Refuse(agentId, AttestationFailure.NotAttested, $"agent {agentId} is not attested (evicted or unknown)");
            if (node.Banned)
            {
                throw Refuse(agentId, AttestationFailure.Banned, $"agent {agentId} is banned");
            }

            var isCurrent = string.Equals(serial, node.CertSerial, StringComparison.Ordinal);
            var isPending = !isCurrent && string.Equals(serial, node.PendingCertSerial, StringComparison.Ordinal);
            if (!isCurrent && !isPending)
            {
                throw Refuse(agentId, AttestationFailure.StaleSvid, $"agent SVID serial {serial} is not the current one");
            }

            var notAfter = isCurrent ? node.CertNotAfter : node.PendingCertNotAfter ?? DateTimeOffset.MinValue;
            if (_time.GetUtcNow() >= notAfter)
            {
                throw Refuse(agentId, AttestationFailure.Expired, $"agent {agentId} SVID has expired");
            }

            if (isCurrent)
            {
                return node;
            }

            // First use of the renewed SVID: it becomes current and the previous one stops working.
            // Compare-and-set on the pending serial; if another call promoted or renewed meanwhile
            // (or the node was evicted), read again and judge the serial against what is stored now.
            if (await _store.PromoteNodeSvidAsync(agentId, serial, cancellationToken).ConfigureAwait(false))
            {
                AttestationLog.NodeSvidPromoted(_logger, agentId, serial, notAfter);
                return node with { CertSerial = serial, CertNotAfter = notAfter, PendingCertSerial = null, PendingCertNotAfter = null };
            }

            if (attempt >= 3)
            {
                throw Refuse(agentId, AttestationFailure.StaleSvid, $"agent SVID serial {serial} is not the current one");
            }
        }
    }

    /// <summary>
    /// Records a renewal: checks the presented SVID again (as <see cref="AuthenticateAsync"/>) and
    /// stores the newly signed SVID as pending. The presented SVID stays valid until the agent first
    /// uses the new one, so a lost answer does not lock the agent out; a renewal presenting the
    /// current SVID while one is pending replaces it (the agent lost the earlier answer and asked again).
    /// </summary>
    /// <returns>The node record, with the new SVID pending.</returns>
    /// <exception cref="AttestationException">As <see cref="AuthenticateAsync"/>.</exception>
    public async Task<AttestedNode> RenewAsync(
        SpiffeId agentId, string presentedSerial, string newSerial, DateTimeOffset newNotAfter, CancellationToken cancellationToken)
    {
        var serial = NormalizeSerial(newSerial, nameof(newSerial));
        var node = await AuthenticateAsync(agentId, presentedSerial, cancellationToken).ConfigureAwait(false);
        var renewed = node with { PendingCertSerial = serial, PendingCertNotAfter = newNotAfter };

        // Only the pending columns, only while not banned and still on the SVID just authenticated:
        // a ban or eviction that commits after the check above is never written over.
        switch (await _store.RenewNodeSvidAsync(agentId, node.CertSerial, serial, newNotAfter, cancellationToken).ConfigureAwait(false))
        {
            case NodeUpdateResult.NotFound:
                throw Refuse(agentId, AttestationFailure.NotAttested, $"agent {agentId} is not attested (evicted or unknown)");
            case NodeUpdateResult.Banned:
                throw Refuse(agentId, AttestationFailure.Banned, $"agent {agentId} is banned");
            case NodeUpdateResult.Conflict:
                throw Refuse(agentId, AttestationFailure.StaleSvid, $"agent SVID serial {NormalizeSerial(presentedSerial, nameof(presentedSerial))} is not the current one");
        }

        AttestationLog.NodeRenewed(_logger, agentId, serial, newNotAfter);
        return renewed;
    }

    /// <summary>Every attested node, ordered by SPIFFE ID.</summary>
    public Task<IReadOnlyList<AttestedNode>> ListAsync(CancellationToken cancellationToken) => _store.ListNodesAsync(cancellationToken);

    /// <summary>The node, or null.</summary>
    public Task<AttestedNode?> GetAsync(SpiffeId agentId, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agentId);
        return _store.GetNodeAsync(agentId, cancellationToken);
    }

    /// <summary>
    /// Deletes the node: its SVID no longer renews or authenticates, and the agent must attest again
    /// with a new join token. Also lifts a ban. False when there was no such node.
    /// </summary>
    public async Task<bool> EvictAsync(SpiffeId agentId, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agentId);
        var deleted = await _store.DeleteNodeAsync(agentId, cancellationToken).ConfigureAwait(false);
        if (deleted)
        {
            AttestationLog.NodeEvicted(_logger, agentId);
        }

        return deleted;
    }

    /// <summary>
    /// Bans the node: it can neither renew nor attest again under this ID until evicted. False when
    /// there is no such node.
    /// </summary>
    public async Task<bool> BanAsync(SpiffeId agentId, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(agentId);
        if (!await _store.BanNodeAsync(agentId, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        AttestationLog.NodeBanned(_logger, agentId);
        return true;
    }

    /// <summary>Lowercase hex without leading zeros (at least one digit).</summary>
    /// <exception cref="ArgumentException">Empty or not hex.</exception>
    internal static string NormalizeSerial(string serial, string paramName)
    {
        if (string.IsNullOrEmpty(serial) || !serial.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException("certificate serial must be hex", paramName);
        }

        var trimmed = serial.TrimStart('0');
        return trimmed.Length == 0 ? "0" : trimmed.ToLowerInvariant();
    }

    private AttestationException Refuse(SpiffeId agentId, AttestationFailure failure, string message)
    {
        AttestationLog.NodeRefused(_logger, agentId, message);
        return new AttestationException(failure, message);
    }

    private static void ThrowIfEmpty(SpiffeId id)
    {
        if (id.IsEmpty)
        {
            throw new ArgumentException("agent spiffe id is empty", nameof(id));
        }
    }
}
