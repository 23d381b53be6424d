using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca.Internal;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca;

/// <summary>
/// An X.509 signing authority: the CA certificate, its private key, and, when an upstream CA
/// signed it, the upstream certificates up to (not including) the upstream root, which are
/// presented after the CA certificate, and the upstream roots, which belong in the bundle.
/// Owns its key and certificates: dispose it when the authority is no longer used.
/// </summary>
public sealed class X509Authority : IDisposable
{
    /// <summary>Wraps a CA certificate and its key (e.g. reloaded from the journal and the key manager).</summary>
    /// <param name="certificate">The CA certificate: cA=TRUE, keyCertSign, a <c>spiffe://trust-domain</c> URI SAN (X509-SVID §4.1, §4.3).</param>
    /// <param name="privateKey">The key of <paramref name="certificate"/>: EC P-256/P-384 or RSA &gt;= 2048 bits.</param>
    /// <param name="upstreamChain">Upstream certificates between this CA and the upstream root, nearest first.</param>
    /// <param name="upstreamRoots">The upstream roots (published in the bundle instead of this CA).</param>
    /// <exception cref="ArgumentException">The certificate is not a SPIFFE CA or the key does not match it.</exception>
    public X509Authority(
        X509Certificate2 certificate,
        AsymmetricAlgorithm privateKey,
        IEnumerable<X509Certificate2>? upstreamChain = null,
        IEnumerable<X509Certificate2>? upstreamRoots = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(privateKey);
        var basic = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (basic is null || !basic.CertificateAuthority)
        {
            throw new ArgumentException("ca certificate is not a ca (basic constraints cA is not true)", nameof(certificate));
        }

        var usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (usage is not null && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
        {
            throw new ArgumentException("ca certificate key usage lacks keyCertSign", nameof(certificate));
        }

        if (!X509Svid.TryGetSpiffeId(certificate, out var id))
        {
            throw new ArgumentException("ca certificate has no spiffe uri san naming its trust domain", nameof(certificate));
        }

        var spki = certificate.PublicKey.ExportSubjectPublicKeyInfo();
        if (!spki.AsSpan().SequenceEqual(privateKey.ExportSubjectPublicKeyInfo()))
        {
            throw new ArgumentException("ca key does not match the ca certificate", nameof(privateKey));
        }

        var ski = certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault();
        KeyIdentifier = ski is not null ? ski.SubjectKeyIdentifierBytes.ToArray() : SubjectKeys.KeyIdentifier(spki);
        Certificate = certificate;
        PrivateKey = privateKey;
        TrustDomain = id.TrustDomain;
        UpstreamChain = upstreamChain is null ? [] : [.. upstreamChain];
        UpstreamRoots = upstreamRoots is null ? [] : [.. upstreamRoots];
        Id = Convert.ToHexStringLower(KeyIdentifier.Span);
    }

    /// <summary>The journal id: the subject key identifier in lowercase hex.</summary>
    public string Id { get; }

    /// <summary>The subject key identifier (also the authority key identifier of what it signs).</summary>
    public ReadOnlyMemory<byte> KeyIdentifier { get; }

    /// <summary>The trust domain named by the CA's URI SAN.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The CA certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA's private key.</summary>
    public AsymmetricAlgorithm PrivateKey { get; }

    /// <summary>Upstream certificates between this CA and the upstream root, nearest first; empty when self-signed.</summary>
    public ImmutableArray<X509Certificate2> UpstreamChain { get; }

    /// <summary>The upstream roots; empty when self-signed (then the CA itself is the bundle authority).</summary>
    public ImmutableArray<X509Certificate2> UpstreamRoots { get; }

    /// <summary>The certificates presented after an SVID: this CA, then <see cref="UpstreamChain"/>.</summary>
    public ImmutableArray<X509Certificate2> PresentedChain => [Certificate, .. UpstreamChain];

    /// <summary>The certificates that belong in the trust bundle: the upstream roots, or this CA when self-signed.</summary>
    public ImmutableArray<X509Certificate2> BundleAuthorities => UpstreamRoots.IsEmpty ? [Certificate] : UpstreamRoots;

    /// <summary>The start of the CA's validity.</summary>
    public DateTimeOffset NotBefore => new(Certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>The end of the CA's validity.</summary>
    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);

    /// <summary>The journal record (public material only) for this authority.</summary>
    public AuthorityRecord ToRecord(string serverId, AuthorityState state, DateTimeOffset createdAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(serverId);
        return new AuthorityRecord
        {
            Id = Id,
            Kind = AuthorityKind.X509,
            ServerId = serverId,
            State = state,
            CertificateDer = Certificate.RawData,
            UpstreamChainDer = UpstreamChain.IsEmpty ? null : [.. UpstreamChain.SelectMany(c => c.RawData)],
            NotBefore = NotBefore,
            NotAfter = NotAfter,
            CreatedAt = createdAt,
        };
    }

    /// <summary>Rebuilds an authority from its journal record and its key from the key manager (takes ownership of the key).</summary>
    /// <exception cref="ArgumentException">The record is not an X.509 authority or the key does not match.</exception>
    public static X509Authority FromRecord(AuthorityRecord record, AsymmetricAlgorithm privateKey)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Kind != AuthorityKind.X509 || record.CertificateDer is null)
        {
            throw new ArgumentException($"authority \"{record.Id}\" is not an x509 authority with a certificate", nameof(record));
        }

        var certificate = X509CertificateLoader.LoadCertificate(record.CertificateDer);
        var chain = new List<X509Certificate2>();
        if (record.UpstreamChainDer is { Length: > 0 } der)
        {
            var rest = der.AsSpan();
            while (!rest.IsEmpty)
            {
                System.Formats.Asn1.AsnDecoder.ReadEncodedValue(rest, System.Formats.Asn1.AsnEncodingRules.DER, out _, out _, out var consumed);
                chain.Add(X509CertificateLoader.LoadCertificate(rest[..consumed]));
                rest = rest[consumed..];
            }
        }

        return new X509Authority(certificate, privateKey, chain);
    }

    /// <summary>Names the authority; never the key.</summary>
    public override string ToString() => $"x509 authority {Id} of {TrustDomain} until {NotAfter:O}";

    /// <summary>Disposes the key and the certificates.</summary>
    public void Dispose()
    {
        PrivateKey.Dispose();
        Certificate.Dispose();
        foreach (var certificate in UpstreamChain)
        {
            certificate.Dispose();
        }

        foreach (var certificate in UpstreamRoots)
        {
            certificate.Dispose();
        }
    }
}
