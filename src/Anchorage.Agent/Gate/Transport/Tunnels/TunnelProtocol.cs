namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The gate-to-gate tunnel wire constants (docs/gate-transport.md): the ALPN id that selects
/// tunnel mode on the mTLS connection, then HTTP/2 with one extended CONNECT stream (RFC 8441)
/// per application connection.
/// </summary>
internal static class TunnelProtocol
{
    /// <summary>The ALPN id an outbound gate offers and an inbound gate selects for tunnel mode.</summary>
    public const string Alpn = "anchorage-tunnel/1";

    /// <summary>The <c>:protocol</c> pseudo-header of each stream (the token of the IETF draft for TCP over extended CONNECT).</summary>
    public const string ConnectProtocol = "connect-tcp";

    /// <summary>The sending gate's connection id, so both gates' audit records join.</summary>
    public const string ConnectionIdHeader = "anchorage-connection-id";

    /// <summary>Streams one tunnel carries at once (SETTINGS_MAX_CONCURRENT_STREAMS of the inbound gate).</summary>
    public const int MaxStreamsPerTunnel = 100;
}
