namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The peer gate answered a tunnel stream's CONNECT with <see cref="Status"/> instead of 200 (docs/gate-transport.md).</summary>
internal sealed class TunnelRefusedException(int status) : IOException($"the peer gate refused the stream ({status})")
{
    public int Status => status;
}
