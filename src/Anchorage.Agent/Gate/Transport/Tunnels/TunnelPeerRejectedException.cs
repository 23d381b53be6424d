namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The tunnel's verified peer is not the peer the outbound connection expects (<c>peer</c> / <c>peerTrustDomain</c>).</summary>
internal sealed class TunnelPeerRejectedException(string message) : IOException(message);
