namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>The peer gate answered a tunnel stream's CONNECT with <see cref="Status"/> instead of 200 (docs/gate-transport.md).</summary>
internal sealed class TunnelRefusedException(int status, string message) : IOException(message)
{
    public TunnelRefusedException(int status)
        : this(status, $"the peer gate refused the stream ({status})")
    {
    }

    public int Status => status;
}
