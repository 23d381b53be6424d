namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The tunnel's mTLS handshake failed; the message says why (the peer check's reason when it refused the peer).</summary>
internal sealed class TunnelHandshakeException(string message, Exception inner) : IOException(message, inner);
