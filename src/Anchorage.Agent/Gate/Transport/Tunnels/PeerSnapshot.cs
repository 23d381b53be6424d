using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>A tunnel's verified peer: its SPIFFE ID and chain, verified at <see cref="HandshakeAt"/>.</summary>
internal sealed record PeerSnapshot(SpiffeId Id, IReadOnlyList<X509Certificate2> Chain, DateTimeOffset HandshakeAt);
