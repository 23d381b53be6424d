using System.Collections.Immutable;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// A SPIFFE bundle (SPIFFE_Trust_Domain_and_Bundle §4): the X.509 and JWT authorities of one
/// trust domain with the optional <c>spiffe_sequence</c> and <c>spiffe_refresh_hint</c>,
/// exchanged as a JWK Set. Immutable.
/// </summary>
public sealed partial class SpiffeBundle
{
    /// <summary>Creates a bundle.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty, a JWT key id repeats, or the hint is negative.</exception>
    public SpiffeBundle(
        TrustDomain trustDomain,
        IEnumerable<X509Certificate2> x509Authorities,
        IEnumerable<JwtAuthority> jwtAuthorities,
        ulong? sequenceNumber = null,
        TimeSpan? refreshHint = null)
    {
        if (refreshHint is { } hint && hint < TimeSpan.Zero)
        {
            throw new ArgumentException("refresh hint is negative", nameof(refreshHint));
        }

        var x509 = new X509Bundle(trustDomain, x509Authorities);
        var jwt = new JwtBundle(trustDomain, jwtAuthorities);
        TrustDomain = trustDomain;
        X509Authorities = x509.Authorities;
        JwtAuthorities = jwt.Authorities;
        SequenceNumber = sequenceNumber;
        RefreshHint = refreshHint;
        _x509 = x509;
        _jwt = jwt;
    }

    private readonly X509Bundle _x509;
    private readonly JwtBundle _jwt;

    /// <summary>The trust domain the bundle speaks for.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The X.509 authorities (JWKs with <c>use: x509-svid</c>).</summary>
    public ImmutableArray<X509Certificate2> X509Authorities { get; }

    /// <summary>The JWT authorities (JWKs with <c>use: jwt-svid</c>).</summary>
    public ImmutableArray<JwtAuthority> JwtAuthorities { get; }

    /// <summary><c>spiffe_sequence</c>, when present.</summary>
    public ulong? SequenceNumber { get; }

    /// <summary><c>spiffe_refresh_hint</c>, when present.</summary>
    public TimeSpan? RefreshHint { get; }

    /// <summary>The X.509 part as an <see cref="X509Bundle"/>.</summary>
    public X509Bundle ToX509Bundle() => _x509;

    /// <summary>The JWT part as a <see cref="JwtBundle"/>.</summary>
    public JwtBundle ToJwtBundle() => _jwt;
}
