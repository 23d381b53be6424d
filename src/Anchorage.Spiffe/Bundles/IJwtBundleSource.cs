using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Bundles;

/// <summary>Supplies the current JWT bundle of a trust domain; see <see cref="IX509BundleSource"/>.</summary>
public interface IJwtBundleSource
{
    /// <summary>Returns the JWT bundle of <paramref name="trustDomain"/>, if one is known.</summary>
    bool TryGetJwtBundle(TrustDomain trustDomain, [NotNullWhen(true)] out JwtBundle? bundle);
}
