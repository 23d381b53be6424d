namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The peer completed the mTLS handshake without selecting <see cref="TunnelProtocol.Alpn"/>: it gets direct mTLS.</summary>
internal sealed class NotATunnelPeerException() : IOException("the peer did not select " + TunnelProtocol.Alpn);
