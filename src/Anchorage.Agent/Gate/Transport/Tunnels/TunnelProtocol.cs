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

    /// <summary>The <c>:protocol</c> of the provenance hello, the first stream of a tunnel that carries provenance.</summary>
    public const string HelloProtocol = "anchorage-provenance";

    /// <summary>The hello's field carrying the sending agent's chain: base64 DER certificates, leaf first, comma-separated.</summary>
    public const string AgentChainHeader = "anchorage-agent-chain";

    /// <summary>Each stream's origin statement (a JWS, <see cref="Provenance.OriginStatement"/>).</summary>
    public const string OriginHeader = "anchorage-origin";

    /// <summary>Streams one tunnel carries at once (SETTINGS_MAX_CONCURRENT_STREAMS of the inbound gate).</summary>
    public const int MaxStreamsPerTunnel = 100;

    /// <summary>
    /// The HTTP/2 stream receive window both gates announce (SETTINGS_INITIAL_WINDOW_SIZE): what
    /// one stream may hold unread. It is what holds back a stream whose reader is slow.
    /// </summary>
    public const int StreamWindow = 256 * 1024;

    /// <summary>
    /// SETTINGS_MAX_FRAME_SIZE both gates announce: the largest DATA frame each accepts. Above the
    /// 16384 default, so a 64 KiB copy becomes one frame (one flow-control step, one hand-over to
    /// the stream's reader) instead of four.
    /// </summary>
    public const int MaxFrameSize = 64 * 1024;
}
