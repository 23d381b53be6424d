using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Svids;

/// <summary>The result of a successful X.509-SVID verification.</summary>
/// <param name="Id">The SPIFFE ID of the leaf (X509-SVID §2).</param>
/// <param name="Path">
/// The validated path: the leaf, the intermediates used (as given by the caller), and the authority
/// of the trust domain's bundle the path ends at (the bundle's own instance).
/// </param>
public sealed record X509SvidVerification(SpiffeId Id, ImmutableArray<X509Certificate2> Path);
