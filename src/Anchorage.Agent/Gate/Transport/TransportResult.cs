namespace Anchorage.Agent.Gate.Transport;

/// <summary>A <see cref="GateChannel"/>, or why none was made (a <see cref="GateReasons"/> value and a detail).</summary>
internal sealed class TransportResult
{
    private TransportResult(GateChannel? channel, string? reason, string? detail, Tunnels.TunnelConnection? tunnel = null)
    {
        Tunnel = tunnel;
        Channel = channel;
        Reason = reason;
        Detail = detail;
    }

    public GateChannel? Channel { get; }

    public string? Reason { get; }

    public string? Detail { get; }

    /// <summary>Inbound: the client selected the tunnel ALPN id; HTTP/2 streams follow on it.</summary>
    public Tunnels.TunnelConnection? Tunnel { get; }

    public static TransportResult TunnelMade(Tunnels.TunnelConnection tunnel) => new(null, null, null, tunnel);

    public static TransportResult Made(GateChannel channel) => new(channel, null, null);

    public static TransportResult Failed(string reason, string? detail) => new(null, reason, detail);
}
