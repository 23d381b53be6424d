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

    /// <summary>
    /// The inbound gate's connection receive window. Kestrel gives connection credit back only as
    /// the application reads each stream's body, and only once more than half of this window is
    /// owed; a stalled stream keeps its unread bytes (up to <see cref="StreamWindow"/>) out of the
    /// connection window. With every stream stalled holding a full stream window
    /// (<see cref="MaxStreamsPerTunnel"/> x <see cref="StreamWindow"/>) and just under half this
    /// window owed, room for two more frames remains: the connection window can never close, so
    /// one slow reader never stalls the tunnel's other streams (the head-of-line blocking the
    /// 1 MiB default allowed: one stalled 768 KiB stream window plus 256 KiB owed closed it).
    /// The memory bound stays the stream windows, not this credit.
    /// </summary>
    public const int InboundConnectionWindow = (2 * MaxStreamsPerTunnel * StreamWindow) + (4 * MaxFrameSize);
}
