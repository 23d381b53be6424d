using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>An accepted mTLS connection whose client selected <see cref="TunnelProtocol.Alpn"/>: HTTP/2 follows.</summary>
internal sealed class TunnelConnection(SslStream tls, Socket socket, SpiffeId peerId, IReadOnlyList<X509Certificate2> peerChain, DateTimeOffset handshakeAt)
{
    public SslStream Tls => tls;

    public Socket Socket => socket;

    public SpiffeId PeerId => peerId;

    public IReadOnlyList<X509Certificate2> PeerChain => peerChain;

    public DateTimeOffset HandshakeAt => handshakeAt;
}
