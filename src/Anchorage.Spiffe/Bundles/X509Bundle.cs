using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// The X.509 authorities (trust anchors) of one trust domain (SPIFFE_Trust_Domain_and_Bundle §3).
/// Immutable: a change makes a new bundle, so a reference identifies one version.
/// </summary>
public sealed class X509Bundle : IX509BundleSource
{
    /// <summary>Creates a bundle from authorities; duplicates (same DER) are dropped, order kept.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    public X509Bundle(TrustDomain trustDomain, IEnumerable<X509Certificate2> authorities)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        ArgumentNullException.ThrowIfNull(authorities);
        TrustDomain = trustDomain;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var builder = ImmutableArray.CreateBuilder<X509Certificate2>();
        foreach (var authority in authorities)
        {
            ArgumentNullException.ThrowIfNull(authority);
            if (seen.Add(Convert.ToHexString(authority.RawDataMemory.Span)))
            {
                builder.Add(authority);
            }
        }

        Authorities = builder.ToImmutable();
    }

    /// <summary>The trust domain these authorities speak for.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The authorities, in the order given, without duplicates.</summary>
    public ImmutableArray<X509Certificate2> Authorities { get; }

    /// <summary>Parses concatenated PEM <c>CERTIFICATE</c> blocks; other PEM blocks are skipped.</summary>
    /// <exception cref="FormatException">A certificate block does not decode; the message says which.</exception>
    public static X509Bundle FromPem(TrustDomain trustDomain, string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return new X509Bundle(trustDomain, Internal.Pem.ReadCertificates(pem));
    }

    /// <summary>Parses concatenated DER certificates (the Workload API's bundle encoding).</summary>
    /// <exception cref="FormatException">The bytes are not a sequence of DER certificates.</exception>
    public static X509Bundle FromDer(TrustDomain trustDomain, ReadOnlySpan<byte> der) =>
        new(trustDomain, Internal.Der.ReadCertificates(der));

    /// <summary>The authorities as concatenated PEM <c>CERTIFICATE</c> blocks.</summary>
    public string ToPem()
    {
        var sb = new StringBuilder();
        foreach (var authority in Authorities)
        {
            sb.Append(PemEncoding.Write("CERTIFICATE", authority.RawDataMemory.Span)).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The authorities as concatenated DER (the Workload API's encoding).</summary>
    public byte[] ToDer() => Der.Concat(Authorities.AsSpan());

    /// <summary>True when a certificate with the same DER is one of the authorities.</summary>
    public bool Contains(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        foreach (var authority in Authorities)
        {
            if (authority.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A bundle of this trust domain with <paramref name="authorities"/> added.</summary>
    public X509Bundle With(params IEnumerable<X509Certificate2> authorities) =>
        new(TrustDomain, Authorities.Concat(authorities));

    /// <inheritdoc/>
    public bool TryGetX509Bundle(TrustDomain trustDomain, [NotNullWhen(true)] out X509Bundle? bundle)
    {
        bundle = trustDomain == TrustDomain ? this : null;
        return bundle is not null;
    }
}
