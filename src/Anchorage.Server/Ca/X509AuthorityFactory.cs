using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca.Internal;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Ca;

/// <summary>
/// Makes X.509 authorities (CA certificates) for one trust domain: self-signed, or signed by an
/// <see cref="UpstreamAuthority"/>. Each CA has a fresh key, a random 128-bit serial, a subject
/// unique to the authority, <c>O=Anchorage, CN=&lt;trust domain&gt; X509 CA &lt;first 8 hex of the key id&gt;</c>
/// (the trust domain is left out of the CN when the CN would exceed 64 characters), the URI SAN
/// <c>spiffe://&lt;trust domain&gt;</c> (X509-SVID §4.1 notes signing certificates may carry one),
/// basicConstraints critical cA=TRUE, keyUsage critical keyCertSign+cRLSign (X509-SVID §4.3),
/// a subject key identifier, and, when upstream-signed, the upstream's authority key identifier.
/// notBefore is backdated by <see cref="RotationPlanner.Backdate"/>; an upstream-signed CA never
/// outlives its upstream.
/// </summary>
public sealed class X509AuthorityFactory
{
    private static readonly byte[] CaBasicConstraints = X509Encoding.BasicConstraints(ca: true);
    private static readonly byte[] CaKeyUsage = X509Encoding.KeyUsage(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign);
    private static readonly byte[] Version3 = [0xA0, 0x03, 0x02, 0x01, 0x02];
    private static readonly Asn1Tag ExtensionsTag = new(TagClass.ContextSpecific, 3);

    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a factory for <paramref name="trustDomain"/>.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    public X509AuthorityFactory(TrustDomain trustDomain, TimeProvider? timeProvider = null)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        TrustDomain = trustDomain;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The trust domain of every CA made.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>A new random authority key id (20 bytes, lowercase hex), used as the CA's subject key identifier.</summary>
    public static string NewAuthorityId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SubjectKeys.KeyIdentifierLength));

    /// <summary>
    /// Generates a key in <paramref name="keys"/> under <c>x509-&lt;id&gt;</c> (<see cref="AuthorityKeyIds"/>)
    /// and makes a CA for it, self-signed or signed by <paramref name="upstream"/>. The authority id
    /// (and subject key identifier) is random, so the key id is known before the key exists.
    /// </summary>
    public async Task<X509Authority> CreateAsync(
        IKeyManager keys, KeyType keyType = KeyType.EcP256, TimeSpan? ttl = null, UpstreamAuthority? upstream = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var id = NewAuthorityId();
        var key = await keys.GenerateAsync(AuthorityKeyIds.For(AuthorityKind.X509, id), keyType, cancellationToken).ConfigureAwait(false);
        return upstream is null
            ? CreateSelfSigned(key, ttl, Convert.FromHexString(id))
            : CreateSigned(key, upstream, ttl, Convert.FromHexString(id));
    }

    /// <summary>Makes a self-signed CA for <paramref name="key"/> (ownership passes to the result).</summary>
    /// <param name="key">EC P-256/P-384 or RSA &gt;= 2048 bits private key.</param>
    /// <param name="ttl">Lifetime; <see cref="RotationPlanner.DefaultCaTtl"/> when null.</param>
    /// <param name="keyIdentifier">The subject key identifier; derived from the key (RFC 7093 §2) when empty.</param>
    /// <exception cref="ArgumentException">Unsupported key, or a TTL that is not positive.</exception>
    public X509Authority CreateSelfSigned(AsymmetricAlgorithm key, TimeSpan? ttl = null, ReadOnlySpan<byte> keyIdentifier = default)
    {
        var signer = CaSigner.For(key, nameof(key));
        var (notBefore, notAfter) = Window(ttl, DateTimeOffset.MaxValue);
        var spki = key.ExportSubjectPublicKeyInfo();
        var ski = keyIdentifier.IsEmpty ? SubjectKeys.KeyIdentifier(spki) : keyIdentifier.ToArray();
        var subject = SubjectFor(ski);
        var der = signer.SignCertificate(Body(signer, subject, subject, notBefore, notAfter, spki, ski, authorityKeyIdentifier: null));
        return new X509Authority(X509CertificateLoader.LoadCertificate(der), key);
    }

    /// <summary>Makes a CA for <paramref name="key"/> signed by <paramref name="upstream"/> (ownership of the key passes to the result).</summary>
    /// <param name="key">EC P-256/P-384 or RSA &gt;= 2048 bits private key.</param>
    /// <param name="upstream">The upstream CA (borrowed).</param>
    /// <param name="ttl">Lifetime; <see cref="RotationPlanner.DefaultCaTtl"/> when null; cut at the upstream's notAfter.</param>
    /// <param name="keyIdentifier">The subject key identifier; derived from the key (RFC 7093 §2) when empty.</param>
    /// <exception cref="ArgumentException">Unsupported key, or a TTL that is not positive.</exception>
    /// <exception cref="InvalidOperationException">The upstream CA has expired.</exception>
    public X509Authority CreateSigned(AsymmetricAlgorithm key, UpstreamAuthority upstream, TimeSpan? ttl = null, ReadOnlySpan<byte> keyIdentifier = default)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        _ = CaSigner.For(key, nameof(key));
        var (notBefore, notAfter) = Window(ttl, upstream.NotAfter);
        var spki = key.ExportSubjectPublicKeyInfo();
        var ski = keyIdentifier.IsEmpty ? SubjectKeys.KeyIdentifier(spki) : keyIdentifier.ToArray();
        var upstreamSki = upstream.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()?.SubjectKeyIdentifierBytes.ToArray()
            ?? SubjectKeys.KeyIdentifier(upstream.Certificate.PublicKey.ExportSubjectPublicKeyInfo());
        var body = Body(upstream.Signer, upstream.Certificate.SubjectName.RawData, SubjectFor(ski), notBefore, notAfter, spki, ski, upstreamSki);
        var der = upstream.Signer.SignCertificate(body);
        return new X509Authority(
            X509CertificateLoader.LoadCertificate(der),
            key,
            upstream.Chain.Select(c => X509CertificateLoader.LoadCertificate(c.RawData)),
            upstream.Roots.Select(c => X509CertificateLoader.LoadCertificate(c.RawData)));
    }

    private (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Window(TimeSpan? ttl, DateTimeOffset limit)
    {
        var lifetime = ttl ?? RotationPlanner.DefaultCaTtl;
        if (lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), lifetime, "ca ttl must be positive");
        }

        var now = _timeProvider.GetUtcNow();
        if (now >= limit)
        {
            throw new InvalidOperationException($"upstream ca expired at {limit:O}");
        }

        var notAfter = now + lifetime > limit ? limit : now + lifetime;
        return (X509Encoding.TruncateToSeconds(now - RotationPlanner.Backdate), X509Encoding.TruncateToSeconds(notAfter));
    }

    private byte[] SubjectFor(ReadOnlySpan<byte> ski)
    {
        var suffix = "X509 CA " + Convert.ToHexStringLower(ski)[..8];
        var cn = TrustDomain.Name.Length + 1 + suffix.Length <= X509Encoding.MaxCommonNameLength ? TrustDomain.Name + " " + suffix : suffix;
        return X509Encoding.Name((X509Encoding.OrganizationOid, X509SvidIssuer.Organization), (X509Encoding.CommonNameOid, cn));
    }

    private byte[] Body(
        CaSigner signer, byte[] issuer, byte[] subject, DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] spki, byte[] ski, byte[]? authorityKeyIdentifier)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(Version3);
            X509Encoding.WriteRandomSerial(writer);
            writer.WriteEncodedValue(signer.AlgorithmIdentifier);
            writer.WriteEncodedValue(issuer);
            using (writer.PushSequence())
            {
                X509Encoding.WriteTime(writer, notBefore);
                X509Encoding.WriteTime(writer, notAfter);
            }

            writer.WriteEncodedValue(subject);
            writer.WriteEncodedValue(spki);
            using (writer.PushSequence(ExtensionsTag))
            using (writer.PushSequence())
            {
                writer.WriteEncodedValue(CaBasicConstraints);
                writer.WriteEncodedValue(CaKeyUsage);
                X509Encoding.WriteSubjectKeyIdentifier(writer, ski);
                if (authorityKeyIdentifier is not null)
                {
                    writer.WriteEncodedValue(X509Encoding.AuthorityKeyIdentifier(authorityKeyIdentifier));
                }

                X509Encoding.WriteSubjectAltName(writer, TrustDomain.IdString, null);
            }
        }

        return writer.Encode();
    }
}
