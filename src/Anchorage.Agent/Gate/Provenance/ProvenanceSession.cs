using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Provenance;

/// <summary>
/// The inbound side of one tunnel that negotiated provenance: the sending agent's chain, verified
/// once (at the tunnel's hello) with the bundle of its trust domain, which must be the trust
/// domain of the tunnel's client SVID; the nonce this gate chose for the tunnel; and the
/// connection ids already seen, so a statement is accepted once. Each stream's statement must
/// verify with the agent's key, be bound to this tunnel, name the stream's connection id and be
/// younger than <see cref="MaxAge"/>.
/// </summary>
internal sealed class ProvenanceSession : IDisposable
{
    /// <summary>How old (or how far ahead of this clock) a statement may be.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    /// <summary>Statements remembered against replay within one tunnel (older ones are refused as stale anyway); a stream beyond it is refused.</summary>
    public const int MaxRemembered = 65536;

    private readonly X509Certificate2 _agentLeaf;
    private readonly ECDsa _agentKey;
    private readonly TimeProvider _time;
    private readonly Queue<(string ConnectionId, long IssuedAtMs)> _order = new();
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private ProvenanceSession(SpiffeId agentId, X509Certificate2 agentLeaf, ECDsa agentKey, TunnelBinding binding, TimeProvider time)
    {
        AgentId = agentId;
        _agentLeaf = agentLeaf;
        _agentKey = agentKey;
        Binding = binding;
        _time = time;
    }

    /// <summary>The verified sending agent.</summary>
    public SpiffeId AgentId { get; }

    /// <summary>What every statement of the tunnel must be bound to.</summary>
    public TunnelBinding Binding { get; }

    /// <summary>
    /// Verifies the sending agent's <paramref name="agentChain"/> (leaf first) with <paramref name="bundles"/> and binds the
    /// session to the tunnel between <paramref name="clientLeaf"/> (the peer) and <paramref name="serverLeaf"/> (this gate) with a fresh nonce.
    /// </summary>
    /// <exception cref="ProvenanceException">The chain does not verify, is not an EC P-256 key, or the agent is of another trust domain than <paramref name="peerId"/>.</exception>
    public static ProvenanceSession Accept(
        IReadOnlyList<X509Certificate2> agentChain, SpiffeId peerId, X509Certificate2 clientLeaf, X509Certificate2 serverLeaf,
        IX509BundleSource bundles, X509SvidVerifier verifier, TimeProvider time)
    {
        if (agentChain.Count == 0)
        {
            throw new ProvenanceException("the provenance hello carries no agent certificate");
        }

        SpiffeId agentId;
        try
        {
            agentId = verifier.Verify(agentChain, bundles, time.GetUtcNow()).Id;
        }
        catch (SpiffeException e)
        {
            throw new ProvenanceException("the sending agent's chain does not verify: " + e.Message);
        }

        if (agentId.TrustDomain != peerId.TrustDomain)
        {
            throw new ProvenanceException($"the sending agent {agentId} is not of the trust domain of the workload {peerId}");
        }

        var key = agentChain[0].GetECDsaPublicKey();
        if (key is null || key.KeySize != 256)
        {
            key?.Dispose();
            throw new ProvenanceException($"the sending agent {agentId} has no EC P-256 key (ES256)");
        }

        var binding = new TunnelBinding(TunnelBinding.LeafHash(clientLeaf), TunnelBinding.LeafHash(serverLeaf), TunnelBinding.NewNonce());
        return new ProvenanceSession(agentId, agentChain[0], key, binding, time);
    }

    /// <summary>Verifies one stream's statement.</summary>
    /// <param name="statement">The stream's <c>anchorage-origin</c> field; null when it sent none.</param>
    /// <param name="connectionId">The stream's <c>anchorage-connection-id</c> field.</param>
    /// <exception cref="ProvenanceException">Missing, unverifiable, bound elsewhere, stale or replayed.</exception>
    public VerifiedOrigin Verify(string? statement, string? connectionId)
    {
        if (string.IsNullOrEmpty(statement))
        {
            throw new ProvenanceException("the stream carries no origin statement although the tunnel negotiated provenance");
        }

        var now = _time.GetUtcNow();
        if (now > _agentLeaf.NotAfter.ToUniversalTime())
        {
            throw new ProvenanceException($"the sending agent's certificate expired at {_agentLeaf.NotAfter.ToUniversalTime():u}");
        }

        var claims = OriginStatement.Read(statement, _agentKey);
        if (claims.AgentId != AgentId.ToString())
        {
            throw new ProvenanceException($"the origin statement names agent {claims.AgentId}, the tunnel's agent is {AgentId}");
        }

        if (claims.Binding != Binding)
        {
            throw new ProvenanceException("the origin statement is bound to another tunnel");
        }

        var age = now - DateTimeOffset.FromUnixTimeMilliseconds(claims.IssuedAtMs);
        if (age > MaxAge || age < -MaxAge)
        {
            throw new ProvenanceException($"the origin statement is stale: signed {age.TotalSeconds:F0} s ago (limit {MaxAge.TotalSeconds:F0} s)");
        }

        if (claims.ConnectionId != connectionId)
        {
            throw new ProvenanceException($"the origin statement is for connection {claims.ConnectionId}, the stream is {connectionId}");
        }

        lock (_lock)
        {
            var oldest = now.ToUnixTimeMilliseconds() - (long)MaxAge.TotalMilliseconds;
            while (_order.Count > 0 && _order.Peek().IssuedAtMs < oldest)
            {
                _seen.Remove(_order.Dequeue().ConnectionId);
            }

            if (_order.Count >= MaxRemembered)
            {
                throw new ProvenanceException($"more than {MaxRemembered} streams in {MaxAge.TotalSeconds:F0} s on one tunnel");
            }

            if (!_seen.Add(claims.ConnectionId))
            {
                throw new ProvenanceException($"the origin statement for connection {claims.ConnectionId} was used before on this tunnel (replayed)");
            }

            _order.Enqueue((claims.ConnectionId, claims.IssuedAtMs));
        }

        return VerifiedOrigin.From(claims);
    }

    public void Dispose() => _agentKey.Dispose();
}
