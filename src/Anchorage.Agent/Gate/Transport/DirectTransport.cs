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
/// <remarks>With <c>acceptTunnels</c>, an inbound client that offers the tunnel ALPN id gets it and the connection is returned as a tunnel.</remarks>
internal sealed class DirectTransport(X509SvidVerifier verifier, TimeProvider time, bool acceptTunnels = false) : IGateTransport
{
    public async Task<TransportResult> DialAsync(
        string connectionId, string host, int port, X509Svid svid, BundleSet bundles, Authorizer authorizer, AuditProcess caller, CancellationToken cancellationToken)
    {
        var check = new PeerCheck(verifier, bundles, authorizer);
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
            var handshakeAt = time.GetUtcNow();
            try
            {
                await tls.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                upstream.Dispose();
                return TransportResult.Failed(GateReasons.PeerVerification, check.Error ?? e.Message);
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
        var check = new PeerCheck(verifier, bundles, Authorizer.Any());
        var tls = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            var options = SpiffeTls.MtlsServer(svid, bundles, Authorizer.Any(), time);
            options.RemoteCertificateValidationCallback = check.Callback;
            if (acceptTunnels)
            {
                options.ApplicationProtocols = [new SslApplicationProtocol(TunnelProtocol.Alpn)];
            }

            var handshakeAt = time.GetUtcNow();
            try
            {
                await tls.AuthenticateAsServerAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                return TransportResult.Failed(GateReasons.PeerVerification, check.Error ?? e.Message);
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
