using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Testing.X509;

/// <summary>
/// A test certificate authority for one trust domain, built with <see cref="CertificateRequest"/>:
/// roots, intermediates, and leaves with a switch for every X509-SVID defect. Times are fixed
/// around <see cref="TestClock.Now"/>, so tests use a fake clock.
/// </summary>
public sealed class TestCa
{
    /// <summary>The OID of the critical extension no verifier understands.</summary>
    public const string UnknownExtensionOid = "1.3.6.1.4.1.55555.1";

    private static int s_serial;

    private TestCa(TrustDomain trustDomain, X509Certificate2 certificate, AsymmetricAlgorithm key, TestCa? parent, TestCaOptions options)
    {
        TrustDomain = trustDomain;
        Certificate = certificate;
        Key = key;
        Parent = parent;
        Options = options;
    }

    public TrustDomain TrustDomain { get; }

    public X509Certificate2 Certificate { get; }

    public AsymmetricAlgorithm Key { get; }

    /// <summary>The issuing CA, null for a root.</summary>
    public TestCa? Parent { get; }

    public TestCaOptions Options { get; }

    /// <summary>This CA and its ancestors' certificates below the root, nearest first (empty for a root).</summary>
    public IReadOnlyList<X509Certificate2> Intermediates
    {
        get
        {
            var list = new List<X509Certificate2>();
            for (var ca = this; ca.Parent is not null; ca = ca.Parent)
            {
                list.Add(ca.Certificate);
            }

            return list;
        }
    }

    /// <summary>The root of this CA's hierarchy.</summary>
    public TestCa Root => Parent?.Root ?? this;

    /// <summary>A bundle of this CA's trust domain whose only authority is this CA (root or not).</summary>
    public X509Bundle Bundle() => new(TrustDomain, [Certificate]);

    /// <summary>A self-signed root CA.</summary>
    public static TestCa CreateRoot(string trustDomain, TestCaOptions? options = null)
    {
        options ??= new TestCaOptions();
        var td = Spiffe.Ids.TrustDomain.Parse(trustDomain);
        var key = NewKey(options.Key);
        var subject = new X500DistinguishedName(options.Subject ?? $"CN={trustDomain} Root CA {Next()}");
        var request = CaRequestCore(subject, key, options, options.SignatureHash ?? HashFor(key));
        var certificate = request.Create(
            subject,
            Generator(key, options.RsaPss),
            options.NotBefore ?? TestClock.Now.AddDays(-1),
            options.NotAfter ?? TestClock.Now.AddYears(1),
            Serial());
        return new TestCa(td, certificate, key, null, options);
    }

    /// <summary>A CA signed by this one, in the same trust domain.</summary>
    public TestCa CreateIntermediate(TestCaOptions? options = null)
    {
        options ??= new TestCaOptions();
        var key = NewKey(options.Key);
        var subject = new X500DistinguishedName(options.Subject ?? $"CN={TrustDomain.Name} Intermediate CA {Next()}");
        var request = CaRequestCore(subject, key, options, options.SignatureHash ?? HashFor(Key));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var certificate = request.Create(
            Certificate.SubjectName,
            Generator(Key, options.RsaPss),
            options.NotBefore ?? TestClock.Now.AddDays(-1),
            options.NotAfter ?? TestClock.Now.AddYears(1),
            Serial());
        return new TestCa(TrustDomain, certificate, key, this, options);
    }

    /// <summary>A leaf signed by this CA; the default is a valid X.509-SVID for <c>spiffe://td/workload</c>.</summary>
    public TestSvid IssueLeaf(TestLeafOptions? options = null)
    {
        options ??= new TestLeafOptions();
        var key = NewKey(options.Key);
        var subject = new X500DistinguishedName($"O=SPIFFE, CN=leaf {Next()}");
        var request = Request(subject, key, options.SignatureHash ?? HashFor(Key));
        if (!options.OmitBasicConstraints)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(options.IsCa, false, 0, true));
        }

        if (!options.OmitKeyUsage)
        {
            var usage = X509KeyUsageFlags.None;
            usage |= options.DigitalSignature ? X509KeyUsageFlags.DigitalSignature : 0;
            usage |= options.KeyCertSign ? X509KeyUsageFlags.KeyCertSign : 0;
            usage |= options.CrlSign ? X509KeyUsageFlags.CrlSign : 0;
            usage |= options.KeyEncipherment ? X509KeyUsageFlags.KeyEncipherment : 0;
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var uris = options.UriSans ?? [$"spiffe://{TrustDomain.Name}{options.Path}"];
        if (uris.Count > 0 || options.DnsNames.Count > 0)
        {
            request.CertificateExtensions.Add(SubjectAltName(uris, options.DnsNames));
        }

        if (options.UnknownCriticalExtension)
        {
            request.CertificateExtensions.Add(UnknownExtension());
        }

        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var certificate = request.Create(
            Certificate.SubjectName,
            Generator(Key, options.RsaPss),
            options.NotBefore ?? TestClock.Now.AddHours(-1),
            options.NotAfter ?? TestClock.Now.AddHours(1),
            Serial());
        var handedOut = options.WrongKey ? NewKey(options.Key) : key;
        return new TestSvid(certificate, handedOut, Intermediates);
    }

    /// <summary>A fresh key of <paramref name="kind"/>.</summary>
    public static AsymmetricAlgorithm NewKey(TestKeyKind kind) => kind switch
    {
        TestKeyKind.EcP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        TestKeyKind.EcP384 => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        TestKeyKind.EcP521 => ECDsa.Create(ECCurve.NamedCurves.nistP521),
        TestKeyKind.Rsa2048 => RSA.Create(2048),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>A SubjectAltName extension with URIs written verbatim (no <see cref="Uri"/> normalisation).</summary>
    public static X509Extension SubjectAltName(IEnumerable<string> uris, IEnumerable<string> dnsNames)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var dns in dnsNames)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, new Asn1Tag(TagClass.ContextSpecific, 2));
            }

            foreach (var uri in uris)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, new Asn1Tag(TagClass.ContextSpecific, 6));
            }
        }

        return new X509Extension("2.5.29.17", writer.Encode(), critical: false);
    }

    private static X509Extension UnknownExtension() => new(UnknownExtensionOid, [0x05, 0x00], critical: true);

    private static CertificateRequest CaRequestCore(X500DistinguishedName subject, AsymmetricAlgorithm key, TestCaOptions options, HashAlgorithmName hash)
    {
        var request = Request(subject, key, hash);
        if (!options.OmitBasicConstraints)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
                options.IsCa, options.PathLength is not null, options.PathLength ?? 0, true));
        }

        if (!options.OmitKeyUsage)
        {
            var usage = X509KeyUsageFlags.CrlSign | (options.KeyCertSign ? X509KeyUsageFlags.KeyCertSign : X509KeyUsageFlags.DigitalSignature);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        }

        if (options.SpiffeId is { } id)
        {
            request.CertificateExtensions.Add(SubjectAltName([id], []));
        }

        if (options.UnknownCriticalExtension)
        {
            request.CertificateExtensions.Add(UnknownExtension());
        }

        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }

    private static CertificateRequest Request(X500DistinguishedName subject, AsymmetricAlgorithm key, HashAlgorithmName hash) => key switch
    {
        ECDsa ecdsa => new CertificateRequest(subject, ecdsa, hash),
        RSA rsa => new CertificateRequest(subject, rsa, hash, RSASignaturePadding.Pkcs1),
        _ => throw new ArgumentException("unsupported key", nameof(key)),
    };

    private static X509SignatureGenerator Generator(AsymmetricAlgorithm issuerKey, bool pss) => issuerKey switch
    {
        ECDsa ecdsa => X509SignatureGenerator.CreateForECDsa(ecdsa),
        RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, pss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
        _ => throw new ArgumentException("unsupported key", nameof(issuerKey)),
    };

    private static HashAlgorithmName HashFor(AsymmetricAlgorithm key) => key.KeySize switch
    {
        384 => HashAlgorithmName.SHA384,
        521 => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    private static int Next() => Interlocked.Increment(ref s_serial);

    private static byte[] Serial()
    {
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        serial[0] |= 0x01;
        return serial;
    }
}
