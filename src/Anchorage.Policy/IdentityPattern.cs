using System.Diagnostics.CodeAnalysis;
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

    /// <summary>
    /// Parses the <c>spiffeId</c> form of a rule side: an exact SPIFFE ID, or a path prefix written
    /// with a whole last segment <c>*</c> (<c>spiffe://td/web/*</c>; <c>spiffe://td/*</c> names every
    /// ID of the trust domain). The ID part follows SPIFFE-ID §2.
    /// </summary>
    /// <param name="text">The text as written.</param>
    /// <param name="pattern">The pattern when the text is valid.</param>
    /// <param name="error">Why the text is not valid (one short lowercase line), else null.</param>
    public static bool TryParse(string text, [NotNullWhen(true)] out IdentityPattern? pattern, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        pattern = null;
        var prefix = text.EndsWith("/*", StringComparison.Ordinal);
        var idText = prefix ? text[..^2] : text;
        if (idText.Contains('*', StringComparison.Ordinal))
        {
            error = "a wildcard is only allowed as the whole last segment (spiffe://td/path/*)";
            return false;
        }

        if (!SpiffeId.TryParse(idText, out var id, out error))
        {
            return false;
        }

        pattern = prefix ? new Prefix(id.TrustDomain, id.Path) : new Exact(id);
        return true;
    }

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
