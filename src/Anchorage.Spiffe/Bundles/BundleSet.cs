using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// Bundles of several trust domains, keyed by trust domain, each kept apart: a lookup returns
/// only the bundle of the trust domain asked for (never a merge). Immutable.
/// </summary>
public sealed class BundleSet : IX509BundleSource, IJwtBundleSource
{
    /// <summary>The empty set.</summary>
    public static readonly BundleSet Empty = new(
        ImmutableDictionary<TrustDomain, X509Bundle>.Empty,
        ImmutableDictionary<TrustDomain, JwtBundle>.Empty);

    private BundleSet(ImmutableDictionary<TrustDomain, X509Bundle> x509, ImmutableDictionary<TrustDomain, JwtBundle> jwt)
    {
        X509Bundles = x509;
        JwtBundles = jwt;
    }

    /// <summary>X.509 bundles by trust domain.</summary>
    public ImmutableDictionary<TrustDomain, X509Bundle> X509Bundles { get; }

    /// <summary>JWT bundles by trust domain.</summary>
    public ImmutableDictionary<TrustDomain, JwtBundle> JwtBundles { get; }

    /// <summary>Every trust domain with an X.509 or a JWT bundle, ordered by name.</summary>
    public IEnumerable<TrustDomain> TrustDomains => X509Bundles.Keys.Union(JwtBundles.Keys).Order();

    /// <summary>A set with <paramref name="bundle"/> added or replacing that trust domain's X.509 bundle.</summary>
    public BundleSet With(X509Bundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return new BundleSet(X509Bundles.SetItem(bundle.TrustDomain, bundle), JwtBundles);
    }

    /// <summary>A set with <paramref name="bundle"/> added or replacing that trust domain's JWT bundle.</summary>
    public BundleSet With(JwtBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return new BundleSet(X509Bundles, JwtBundles.SetItem(bundle.TrustDomain, bundle));
    }

    /// <summary>A set with both bundles of <paramref name="bundle"/> added or replaced.</summary>
    public BundleSet With(SpiffeBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return With(bundle.ToX509Bundle()).With(bundle.ToJwtBundle());
    }

    /// <summary>A set without any bundle of <paramref name="trustDomain"/>.</summary>
    public BundleSet Without(TrustDomain trustDomain) =>
        new(X509Bundles.Remove(trustDomain), JwtBundles.Remove(trustDomain));

    /// <inheritdoc/>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle) =>
        X509Bundles.TryGetValue(trustDomain, out bundle);

    /// <inheritdoc/>
    public bool TryGetJwtBundle(TrustDomain trustDomain, [NotNullWhen(true)] out JwtBundle? bundle) =>
        JwtBundles.TryGetValue(trustDomain, out bundle);
}
