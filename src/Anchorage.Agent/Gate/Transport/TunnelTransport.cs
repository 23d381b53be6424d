using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Transport;

/// <summary>
/// Outbound tunnels (docs/gate-transport.md): each application connection one extended CONNECT
/// stream over a pooled mTLS HTTP/2 connection per (local SPIFFE ID, peer address). A peer that
/// does not select <see cref="TunnelProtocol.Alpn"/> is dialed directly (<see cref="DirectTransport"/>)
/// and remembered as direct for <see cref="DirectMemory"/>. Inbound connections are accepted by
/// the direct transport, which hands a tunnel to the <see cref="TunnelServer"/>.
/// </summary>
/// <remarks>The agent's own SVID (<c>agentSvid</c>), when P-256, signs each stream's origin statement (docs/gate-transport.md).</remarks>
internal sealed class TunnelTransport(
    DirectTransport direct, X509SvidVerifier verifier, TimeProvider time, TimeSpan idleTimeout, TimeSpan connectTimeout, Func<X509Svid?> agentSvid) : IGateTransport, IAsyncDisposable
{
    /// <summary>How long a peer found not to speak tunnels is dialed directly before it is asked again.</summary>
    public static readonly TimeSpan DirectMemory = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, TunnelPool> _pools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _directPeers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Tunnel pools held now (draining ones excluded).</summary>
    public int Pools => _pools.Count;

    public async Task<TransportResult> DialAsync(
        string connectionId, string host, int port, X509Svid svid, BundleSet bundles, Authorizer authorizer, AuditProcess caller, CancellationToken cancellationToken)
    {
        var address = host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_directPeers.TryGetValue(address, out var until) && until > time.GetUtcNow())
        {
            return await direct.DialAsync(connectionId, host, port, svid, bundles, authorizer, caller, cancellationToken).ConfigureAwait(false);
        }

        TunnelPool pool;
        (TunnelClientConnection Tunnel, TunnelStream Stream)? opened;
        try
        {
            do
            {
                // A pool retired by a rotation between finding and using it is replaced already: ask again.
                pool = PoolFor(svid, address, host, port);
                pool.UseBundles(bundles);
                opened = await pool.OpenStreamAsync(connectionId, authorizer, (agent, binding) => Sign(connectionId, svid, caller, agent, binding), cancellationToken).ConfigureAwait(false);
            }
            while (opened is null);
        }
        catch (NotATunnelPeerException)
        {
            _directPeers[address] = time.GetUtcNow() + DirectMemory;
            return await direct.DialAsync(connectionId, host, port, svid, bundles, authorizer, caller, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TunnelHandshakeException or TunnelPeerRejectedException)
        {
            return TransportResult.Failed(GateReasons.PeerVerification, e.Message);
        }
        catch (TunnelRefusedException e)
        {
            return TransportResult.Failed(GateReasons.PeerRefused, e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            return TransportResult.Failed(GateReasons.Unreachable, e is OperationCanceledException ? "timed out" : e.Message);
        }

        var peer = opened.Value.Tunnel.Peer;
        return TransportResult.Made(new TunnelOutboundChannel(opened.Value.Stream)
        {
            PeerId = peer.Id,
            PeerChain = peer.Chain,
            HandshakeAt = peer.HandshakeAt,
        });
    }

    public Task<TransportResult> AcceptAsync(Socket client, X509Svid svid, BundleSet bundles, CancellationToken cancellationToken) =>
        direct.AcceptAsync(client, svid, bundles, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var pool in _pools.Values)
        {
            await pool.DisposeAsync().ConfigureAwait(false);
        }

        _pools.Clear();
    }

    // The agent SVIDs that can sign (ES256 needs a P-256 key); another leaves tunnels without provenance.
    private static X509Svid? Signer(X509Svid? agent) => agent is { PrivateKey: ECDsa { KeySize: 256 } } ? agent : null;

    private string Sign(string connectionId, X509Svid svid, AuditProcess caller, X509Svid agent, TunnelBinding binding) =>
        OriginStatement.Sign(
            new OriginClaims
            {
                ConnectionId = connectionId,
                AgentId = agent.Id.ToString(),
                Subject = svid.Id.ToString(),
                Pid = caller.Pid,
                Exe = caller.Exe,
                Sha256 = caller.Sha256,
                Uid = caller.Uid,
                Gid = caller.Gid,
                StartTime = caller.StartTime,
                IssuedAtMs = time.GetUtcNow().ToUnixTimeMilliseconds(),
                Binding = binding,
            },
            (ECDsa)agent.PrivateKey);

    // A rotated SVID (another certificate for the same ID) gets a new pool; the old one drains.
    private TunnelPool PoolFor(X509Svid svid, string address, string host, int port)
    {
        var key = svid.Id + " " + address;
        if (_pools.TryGetValue(key, out var pool) && ReferenceEquals(pool.Svid, svid))
        {
            return pool;
        }

        lock (_lock)
        {
            if (_pools.TryGetValue(key, out pool))
            {
                if (pool.Svid.Certificates[0].RawDataMemory.Span.SequenceEqual(svid.Certificates[0].RawDataMemory.Span))
                {
                    return pool;
                }

                pool.Retire();
            }

            pool = new TunnelPool(svid, host, port, verifier, time, idleTimeout, connectTimeout, () => Signer(agentSvid()));
            _pools[key] = pool;
            return pool;
        }
    }
}
