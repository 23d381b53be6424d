using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy;

/// <summary>
/// One connection to decide. The outbound gate fills <see cref="From"/> with the local process's
/// own SVID and <see cref="FromSelectors"/> with that process's selectors; the inbound gate fills
/// <see cref="From"/> with the verified peer and the selectors with the stream's verified origin
/// (<see cref="OriginMatch.RequestSelectors"/>), empty without one.
/// </summary>
/// <param name="From">The SPIFFE ID of the side opening the connection.</param>
/// <param name="FromSelectors">The opening process's selectors (<c>type:value</c>), or its verified origin's; empty when unknown.</param>
/// <param name="To">The SPIFFE ID of the side accepting it.</param>
/// <param name="Port">The destination port.</param>
public readonly record struct PolicyRequest(SpiffeId From, IReadOnlySet<string> FromSelectors, SpiffeId To, int Port);
