using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;

namespace Anchorage.Agent.Gate.Transport;

/// <summary>Direct mTLS: one TCP connection and one TLS handshake per application connection.</summary>
/// <remarks>
/// <para>With <c>acceptTunnels</c>, an inbound client that offers the tunnel ALPN id gets it and the connection is returned as a tunnel.</para>
/// <para>
/// TLS sessions are resumed on both sides (docs/gate-transport.md), and a resumed session is
/// verified as a full handshake is: SslStream calls the validation callback on resumption too, the
/// client with the server's chain kept in its session, the server with the client's leaf only,
/// whose intermediates <see cref="PeerCheck"/> takes from <see cref="VerifiedChainCache"/>; the
/// chain is then verified against the bundle current now and authorized again. After the
/// handshake <see cref="PeerCheck.Confirm"/> refuses a stream whose certificate the callback did
/// not accept, so nothing is forwarded unverified.
/// </para>
/// </remarks>
internal sealed class DirectTransport(
    X509SvidVerifier verifier, TimeProvider time, bool acceptTunnels = false, int resumableChains = VerifiedChainCache.DefaultCapacity) : IGateTransport
{
    private readonly VerifiedChainCache _chains = new(resumableChains, time);

    /// <summary>The peer chains kept to verify resumed sessions again.</summary>
    internal VerifiedChainCache Chains => _chains;

    /// <summary>
    /// The name SslStream files the client's TLS sessions under (it sends it as SNI): one per peer
    /// address. SslStream resumes only with a DNS-like target host (neither empty nor an IP
    /// address), so an address is hashed into a name under <c>.invalid</c> (RFC 6761) that no peer
    /// can mistake for one of its own; the peer's identity is checked on its SVID, never on it.
    /// </summary>
    internal static string SessionName(string host, int port)
    {
        var address = host + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(address));
        return Convert.ToHexStringLower(hash.AsSpan(0, 16)) + ".session.anchorage.invalid";
    }

    public async Task<TransportResult> DialAsync(
        string connectionId, string host, int port, X509Svid svid, BundleSet bundles, Authorizer authorizer, AuditProcess caller, CancellationToken cancellationToken)
    {
        var check = new PeerCheck(verifier, bundles, authorizer, _chains);
        var upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? tls = null;
        try
        {
            try
            {
                await upstream.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                upstream.Dispose();
                return TransportResult.Failed(GateReasons.Unreachable, e is SocketException s ? s.Message : "timed out");
            }

            tls = new SslStream(new NetworkStream(upstream, ownsSocket: false), leaveInnerStreamOpen: false);
            var options = SpiffeTls.MtlsClient(svid, bundles, authorizer, time);
            options.RemoteCertificateValidationCallback = check.Callback;
            options.AllowTlsResume = true;
            options.TargetHost = SessionName(host, port);
            var handshakeAt = time.GetUtcNow();
            string? refused;
            try
            {
                await tls.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
                refused = check.Confirm(tls);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                refused = check.Error ?? e.Message;
            }

            if (refused is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                upstream.Dispose();
                return TransportResult.Failed(GateReasons.PeerVerification, refused);
            }

            return TransportResult.Made(new DirectChannel(tls, upstream, ownsSocket: true)
            {
                PeerId = check.PeerId,
                PeerChain = check.Chain!,
                HandshakeAt = handshakeAt,
            });
        }
        catch
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            upstream.Dispose();
            throw;
        }
    }

    public async Task<TransportResult> AcceptAsync(Socket client, X509Svid svid, BundleSet bundles, CancellationToken cancellationToken)
    {
        var check = new PeerCheck(verifier, bundles, Authorizer.Any(), _chains);
        var tls = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            var options = SpiffeTls.MtlsServer(svid, bundles, Authorizer.Any(), time);
            options.RemoteCertificateValidationCallback = check.Callback;
            options.AllowTlsResume = true;
            if (acceptTunnels)
            {
                options.ApplicationProtocols = [new SslApplicationProtocol(TunnelProtocol.Alpn)];
            }

            var handshakeAt = time.GetUtcNow();
            string? refused;
            try
            {
                await tls.AuthenticateAsServerAsync(options, cancellationToken).ConfigureAwait(false);
                refused = check.Confirm(tls);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                refused = check.Error ?? e.Message;
            }

            if (refused is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                return TransportResult.Failed(GateReasons.PeerVerification, refused);
            }

            if (acceptTunnels && tls.NegotiatedApplicationProtocol.ToString() == TunnelProtocol.Alpn)
            {
                return TransportResult.TunnelMade(new TunnelConnection(tls, client, check.PeerId, check.Chain!, handshakeAt));
            }

            return TransportResult.Made(new DirectChannel(tls, client, ownsSocket: false)
            {
                PeerId = check.PeerId,
                PeerChain = check.Chain!,
                HandshakeAt = handshakeAt,
            });
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
