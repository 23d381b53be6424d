using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy;

/// <summary>
/// Which SPIFFE IDs a rule side names: exactly one ID, every ID under a path prefix
/// (<c>spiffe://td/web/*</c>), or every ID of a trust domain.
/// </summary>
public abstract record IdentityPattern
{
    private protected IdentityPattern()
    {
    }

    /// <summary>True when <paramref name="id"/> is one of the IDs this pattern names.</summary>
    public abstract bool Matches(SpiffeId id);

    /// <summary>Exactly <paramref name="Id"/>.</summary>
    public sealed record Exact(SpiffeId Id) : IdentityPattern
    {
        /// <inheritdoc/>
        public override bool Matches(SpiffeId id) => id == Id;

        /// <inheritdoc/>
        public override string ToString() => Id.ToString();
    }

    /// <summary>
    /// Every ID of <paramref name="TrustDomain"/> whose path is <paramref name="PathPrefix"/> or
    /// lies under it segment-wise (<c>/web</c> matches <c>/web</c> and <c>/web/a</c>, never <c>/webx</c>).
    /// Written <c>spiffe://td/web/*</c>.
    /// </summary>
    public sealed record Prefix(TrustDomain TrustDomain, string PathPrefix) : IdentityPattern
    {
        /// <inheritdoc/>
        public override bool Matches(SpiffeId id) =>
            id.TrustDomain == TrustDomain
            && id.Path.StartsWith(PathPrefix, StringComparison.Ordinal)
            && (id.Path.Length == PathPrefix.Length || PathPrefix.Length == 0 || id.Path[PathPrefix.Length] == '/');

        /// <inheritdoc/>
        public override string ToString() => TrustDomain.IdString + PathPrefix + "/*";
    }

    /// <summary>Every ID of <paramref name="TrustDomain"/>.</summary>
    public sealed record InTrustDomain(TrustDomain TrustDomain) : IdentityPattern
    {
        /// <inheritdoc/>
        public override bool Matches(SpiffeId id) => id.TrustDomain == TrustDomain;

        /// <inheritdoc/>
        public override string ToString() => "trustDomain " + TrustDomain.Name;
    }
}
