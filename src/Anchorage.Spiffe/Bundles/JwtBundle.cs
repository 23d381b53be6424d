using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// The JWT authorities of one trust domain, keyed by key id (SPIFFE_Trust_Domain_and_Bundle §3,
/// JWT-SVID §6). Immutable.
/// </summary>
public sealed class JwtBundle : IJwtBundleSource
{
    /// <summary>Creates a bundle; a key id may appear once.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty or a key id repeats.</exception>
    public JwtBundle(TrustDomain trustDomain, IEnumerable<JwtAuthority> authorities)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        ArgumentNullException.ThrowIfNull(authorities);
        TrustDomain = trustDomain;
        var builder = ImmutableDictionary.CreateBuilder<string, JwtAuthority>(StringComparer.Ordinal);
        var ordered = ImmutableArray.CreateBuilder<JwtAuthority>();
        foreach (var authority in authorities)
        {
            ArgumentNullException.ThrowIfNull(authority);
            if (!builder.TryAdd(authority.KeyId, authority))
            {
                throw new ArgumentException($"key id \"{authority.KeyId}\" appears more than once", nameof(authorities));
            }

            ordered.Add(authority);
        }

        ByKeyId = builder.ToImmutable();
        Authorities = ordered.ToImmutable();
    }

    /// <summary>The trust domain these authorities speak for.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The authorities in the order given.</summary>
    public ImmutableArray<JwtAuthority> Authorities { get; }

    /// <summary>The authorities by key id.</summary>
    public ImmutableDictionary<string, JwtAuthority> ByKeyId { get; }

    /// <summary>Finds the authority with key id <paramref name="keyId"/>.</summary>
    public bool TryGetAuthority(string keyId, [NotNullWhen(true)] out JwtAuthority? authority) =>
        ByKeyId.TryGetValue(keyId, out authority);

    /// <inheritdoc/>
    public bool TryGetJwtBundle(TrustDomain trustDomain, [NotNullWhen(true)] out JwtBundle? bundle)
    {
        bundle = trustDomain == TrustDomain ? this : null;
        return bundle is not null;
    }
}
