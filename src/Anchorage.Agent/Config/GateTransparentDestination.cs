using System.Net;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Config;

/// <summary>
/// One intercepted destination (<c>gate.transparent.destinations[]</c>): TCP connections to an
/// address in <see cref="Network"/> and a port from <see cref="PortLow"/> to <see cref="PortHigh"/>
/// are redirected to the gate, which dials the original address with mTLS and accepts only
/// <see cref="Peer"/> (or any ID of <see cref="PeerTrustDomain"/>).
/// </summary>
public sealed record GateTransparentDestination
{
    /// <summary>The destination's name, unique among gate listeners and destinations; audit records carry it.</summary>
    public required string Name { get; init; }

    /// <summary>The IPv4 or IPv6 network (<c>cidr</c>); IPv4 destinations are also matched when reached IPv4-mapped from an IPv6 socket.</summary>
    public required IPNetwork Network { get; init; }

    /// <summary>The first port of the range (<c>ports</c>).</summary>
    public required int PortLow { get; init; }

    /// <summary>The last port of the range (equal to <see cref="PortLow"/> for one port).</summary>
    public required int PortHigh { get; init; }

    /// <summary>The exact SPIFFE ID the destination must present; exclusive with <see cref="PeerTrustDomain"/>.</summary>
    public SpiffeId? Peer { get; init; }

    /// <summary>The trust domain the destination's SPIFFE ID must belong to; exclusive with <see cref="Peer"/>.</summary>
    public TrustDomain? PeerTrustDomain { get; init; }

    /// <summary>Whether <paramref name="address"/>:<paramref name="port"/> is this destination.</summary>
    public bool Matches(IPAddress address, int port) => Network.Contains(address) && port >= PortLow && port <= PortHigh;
}
