using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca.Internal;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Ca;

/// <summary>
/// Mints X.509-SVIDs with one CA. The certificate body is written directly with
/// <see cref="AsnWriter"/> and signed once; everything that depends only on the CA (issuer name,
/// authority key identifier, signature algorithm, fixed extensions) is encoded once, here.
/// Thread-safe.
/// </summary>
/// <remarks>
/// Every SVID is a v3 certificate (RFC 5280 §4.1) with: a random positive 128-bit serial; the
/// signature algorithm of the CA key (ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384,
/// sha256WithRSAEncryption for RSA); the CA's subject copied verbatim as issuer; the validity in
/// UTCTime through 2049 and GeneralizedTime from 2050, in whole seconds; the subject
/// <c>O=Anchorage</c>, plus <c>CN=</c> the first DNS name when there is one of at most 64
/// characters (as SPIRE, so TLS stacks that still read the CN see a host name); the
/// SubjectPublicKeyInfo copied verbatim; and the extensions basicConstraints critical cA=FALSE
/// (X509-SVID §4.1), keyUsage critical digitalSignature, plus keyEncipherment for RSA subject keys
/// (X509-SVID §4.3), extKeyUsage serverAuth+clientAuth (X509-SVID §4.4), subjectKeyIdentifier
/// (RFC 7093 §2 method 1), authorityKeyIdentifier = the CA's key identifier, and subjectAltName
/// with exactly one URI, the SPIFFE ID (X509-SVID §2), then the DNS names.
/// </remarks>
public sealed class X509SvidIssuer
{
    /// <summary>The subject organization of every SVID.</summary>
    public const string Organization = "Anchorage";

    private static readonly byte[] Version3 = [0xA0, 0x03, 0x02, 0x01, 0x02];
    private static readonly byte[] LeafBasicConstraints = X509Encoding.BasicConstraints(ca: false);
    private static readonly byte[] EcKeyUsage = X509Encoding.KeyUsage(X509KeyUsageFlags.DigitalSignature);
    private static readonly byte[] RsaKeyUsage = X509Encoding.KeyUsage(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment);
    private static readonly byte[] ExtendedKeyUsage = X509Encoding.ServerAndClientAuth();
    private static readonly Asn1Tag ExtensionsTag = new(TagClass.ContextSpecific, 3);

    private readonly CaSigner _signer;
    private readonly byte[] _issuerName;
    private readonly byte[] _authorityKeyIdentifier;
    private readonly DateTimeOffset _caNotBefore;
    private readonly DateTimeOffset _caNotAfter;
    private readonly TimeSpan _maxTtl;
    private readonly TimeProvider _timeProvider;

    /// <summary>Prepares an issuer for <paramref name="authority"/> (borrowed: the caller keeps it alive and disposes it).</summary>
    /// <param name="authority">The signing CA.</param>
    /// <param name="timeProvider">The clock for the TTL overloads (default: the system clock).</param>
    /// <exception cref="ArgumentException">The CA key is not EC P-256/P-384 or RSA &gt;= 2048 bits.</exception>
    public X509SvidIssuer(X509Authority authority, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(authority);
        Authority = authority;
        _signer = CaSigner.For(authority.PrivateKey, nameof(authority));
        _issuerName = authority.Certificate.SubjectName.RawData;
        _authorityKeyIdentifier = X509Encoding.AuthorityKeyIdentifier(authority.KeyIdentifier.Span);
        _caNotBefore = authority.NotBefore;
        _caNotAfter = authority.NotAfter;
        var maxTtl = RotationPlanner.MaxSvidTtl(_caNotAfter - _caNotBefore);
        _maxTtl = maxTtl - TimeSpan.FromTicks(maxTtl.Ticks % TimeSpan.TicksPerSecond); // certificates carry whole seconds
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The signing CA.</summary>
    public X509Authority Authority { get; }

    /// <summary>The longest TTL this CA grants: <see cref="RotationPlanner.MaxSvidTtl"/> of its certificate's lifetime, in whole seconds.</summary>
    public TimeSpan MaxTtl => _maxTtl;

    /// <summary>
    /// Mints an SVID valid from now minus <see cref="RotationPlanner.Backdate"/> for
    /// <c>min(ttl, MaxTtl)</c>, never past the CA's notAfter (<see cref="RotationPlanner.SvidWindow"/>).
    /// </summary>
    /// <param name="id">The SPIFFE ID; must be in the CA's trust domain.</param>
    /// <param name="subjectPublicKeyInfo">The workload's public key (DER SubjectPublicKeyInfo).</param>
    /// <param name="dnsNames">DNS SANs, in order (the first also becomes the CN).</param>
    /// <param name="ttl">The requested TTL; <see cref="RotationPlanner.DefaultX509SvidTtl"/> when null.</param>
    /// <returns>The certificate, DER.</returns>
    /// <exception cref="ArgumentException">The ID or a DNS name is not acceptable, or the TTL is not positive.</exception>
    /// <exception cref="FormatException">The public key is malformed or of an unsupported type.</exception>
    /// <exception cref="InvalidOperationException">The CA is not valid now.</exception>
    public byte[] Issue(SpiffeId id, ReadOnlySpan<byte> subjectPublicKeyInfo, IReadOnlyList<string>? dnsNames = null, TimeSpan? ttl = null)
    {
        var (notBefore, notAfter) = Window(ttl);
        return Issue(id, subjectPublicKeyInfo, dnsNames, notBefore, notAfter);
    }

    /// <summary>Mints an SVID with an explicit validity window (truncated to whole seconds).</summary>
    /// <param name="id">The SPIFFE ID; must be in the CA's trust domain.</param>
    /// <param name="subjectPublicKeyInfo">The workload's public key (DER SubjectPublicKeyInfo).</param>
    /// <param name="dnsNames">DNS SANs, in order (the first also becomes the CN).</param>
    /// <param name="notBefore">Start of validity; not before the CA's.</param>
    /// <param name="notAfter">End of validity; after <paramref name="notBefore"/>, not after the CA's, and at
    /// most <see cref="MaxTtl"/> plus <see cref="RotationPlanner.Backdate"/> after <paramref name="notBefore"/>.</param>
    /// <returns>The certificate, DER.</returns>
    /// <exception cref="ArgumentException">The ID, a DNS name or the window is not acceptable.</exception>
    /// <exception cref="FormatException">The public key is malformed or of an unsupported type.</exception>
    public byte[] Issue(SpiffeId id, ReadOnlySpan<byte> subjectPublicKeyInfo, IReadOnlyList<string>? dnsNames, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var kind = SubjectKeys.Inspect(subjectPublicKeyInfo, "public key");
        return IssueCore(id, subjectPublicKeyInfo, kind, dnsNames, notBefore, notAfter);
    }

    /// <summary>
    /// The CSR path: parses and verifies <paramref name="csr"/> (<see cref="CsrParser"/>), then mints
    /// for its key as <see cref="Issue(SpiffeId, ReadOnlySpan{byte}, IReadOnlyList{string}?, TimeSpan?)"/>.
    /// The CSR's subject and extensions are ignored.
    /// </summary>
    /// <exception cref="FormatException">The CSR is malformed, its key unsupported, or its signature does not verify.</exception>
    /// <inheritdoc cref="Issue(SpiffeId, ReadOnlySpan{byte}, IReadOnlyList{string}?, TimeSpan?)"/>
    public byte[] IssueFromCsr(SpiffeId id, ReadOnlySpan<byte> csr, IReadOnlyList<string>? dnsNames = null, TimeSpan? ttl = null)
    {
        var spki = CsrParser.VerifyAndGetPublicKey(csr, out var kind);
        var (notBefore, notAfter) = Window(ttl);
        return IssueCore(id, spki, kind, dnsNames, notBefore, notAfter);
    }

    /// <summary>As <see cref="Issue(SpiffeId, ReadOnlySpan{byte}, IReadOnlyList{string}?, TimeSpan?)"/>, loaded as a certificate.</summary>
    /// <inheritdoc cref="Issue(SpiffeId, ReadOnlySpan{byte}, IReadOnlyList{string}?, TimeSpan?)"/>
    public X509Certificate2 IssueCertificate(SpiffeId id, ReadOnlySpan<byte> subjectPublicKeyInfo, IReadOnlyList<string>? dnsNames = null, TimeSpan? ttl = null) =>
        X509CertificateLoader.LoadCertificate(Issue(id, subjectPublicKeyInfo, dnsNames, ttl));

    private byte[] IssueCore(
        SpiffeId id, ReadOnlySpan<byte> spki, SubjectKeyKind kind, IReadOnlyList<string>? dnsNames, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        if (id.IsEmpty)
        {
            throw new ArgumentException("spiffe id is empty", nameof(id));
        }

        if (!id.MemberOf(Authority.TrustDomain))
        {
            throw new ArgumentException($"spiffe id \"{id}\" is not in trust domain \"{Authority.TrustDomain}\" of this ca", nameof(id));
        }

        if (dnsNames is not null)
        {
            foreach (var name in dnsNames)
            {
                if (!X509Encoding.IsValidDnsName(name))
                {
                    throw new ArgumentException($"dns name \"{Printable(name)}\" is not a valid dns name", nameof(dnsNames));
                }
            }
        }

        notBefore = X509Encoding.TruncateToSeconds(notBefore);
        notAfter = X509Encoding.TruncateToSeconds(notAfter);
        CheckWindow(notBefore, notAfter);

        var writer = new AsnWriter(AsnEncodingRules.DER, 768);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(Version3);
            X509Encoding.WriteRandomSerial(writer);
            writer.WriteEncodedValue(_signer.AlgorithmIdentifier);
            writer.WriteEncodedValue(_issuerName);
            using (writer.PushSequence())
            {
                X509Encoding.WriteTime(writer, notBefore);
                X509Encoding.WriteTime(writer, notAfter);
            }

            using (writer.PushSequence())
            {
                X509Encoding.WriteRdn(writer, X509Encoding.OrganizationOid, Organization);
                if (dnsNames is { Count: > 0 } && dnsNames[0].Length <= X509Encoding.MaxCommonNameLength)
                {
                    X509Encoding.WriteRdn(writer, X509Encoding.CommonNameOid, dnsNames[0]);
                }
            }

            writer.WriteEncodedValue(spki);
            using (writer.PushSequence(ExtensionsTag))
            using (writer.PushSequence())
            {
                writer.WriteEncodedValue(LeafBasicConstraints);
                writer.WriteEncodedValue(kind == SubjectKeyKind.Rsa ? RsaKeyUsage : EcKeyUsage);
                writer.WriteEncodedValue(ExtendedKeyUsage);
                Span<byte> keyId = stackalloc byte[SubjectKeys.KeyIdentifierLength];
                SubjectKeys.KeyIdentifier(spki, keyId);
                X509Encoding.WriteSubjectKeyIdentifier(writer, keyId);
                writer.WriteEncodedValue(_authorityKeyIdentifier);
                X509Encoding.WriteSubjectAltName(writer, id.ToString(), dnsNames);
            }
        }

        return _signer.SignCertificate(writer.Encode());
    }

    private (DateTimeOffset NotBefore, DateTimeOffset NotAfter) Window(TimeSpan? ttl)
    {
        var requested = ttl ?? RotationPlanner.DefaultX509SvidTtl;
        return RotationPlanner.SvidWindow(_timeProvider.GetUtcNow(), requested > _maxTtl ? _maxTtl : requested, _caNotBefore, _caNotAfter);
    }

    private void CheckWindow(DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        if (notAfter <= notBefore)
        {
            throw new ArgumentException("svid notAfter must be after notBefore (whole seconds)", nameof(notAfter));
        }

        if (notBefore < _caNotBefore)
        {
            throw new ArgumentException($"svid notBefore {notBefore:O} is before the ca's notBefore {_caNotBefore:O}", nameof(notBefore));
        }

        if (notAfter > _caNotAfter)
        {
            throw new ArgumentException($"svid notAfter {notAfter:O} is after the ca's notAfter {_caNotAfter:O}", nameof(notAfter));
        }

        if (notAfter - notBefore > _maxTtl + RotationPlanner.Backdate)
        {
            throw new ArgumentException($"svid lifetime {notAfter - notBefore} exceeds the cap {_maxTtl} (ca lifetime / 6, at most 7 days) plus the 10 s backdate", nameof(notAfter));
        }
    }

    // DNS names come from entries: printable in messages, but bounded and stripped of control characters.
    private static string Printable(string? value) =>
        value is null ? "(null)" : new string([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
