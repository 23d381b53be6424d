using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Federation.Internal;

/// <summary>One relationship as the refresher last saw it: when its bundle was last refreshed, and the sequence of that bundle.</summary>
/// <param name="TrustDomain">The federated trust domain.</param>
/// <param name="LastSuccess">The last successful refresh (by any server sharing the datastore); null: never.</param>
/// <param name="Sequence">The stored bundle's <c>spiffe_sequence</c> as this refresher last saw it; null: unknown or none.</param>
internal sealed record FederationReading(TrustDomain TrustDomain, DateTimeOffset? LastSuccess, ulong? Sequence);
