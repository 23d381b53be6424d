using System.Collections.Immutable;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Ca;

/// <summary>An issued X.509-SVID: the chain to present (DER, leaf first), its serial and expiry.</summary>
public sealed record IssuedX509Svid(SpiffeId Id, ImmutableArray<byte[]> Chain, string SerialNumber, DateTimeOffset NotAfter, string AuthorityId);
