using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// Supplies the current X.509 bundle of a trust domain. Implementations may change what they
/// return over time (rotation, federation refresh); callers ask again for every verification.
/// </summary>
public interface IX509BundleSource
{
    /// <summary>Returns the X.509 bundle of <paramref name="trustDomain"/>, if one is known.</summary>
    bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle);
}
