using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Spiffe.Internal;

/// <summary>Key usage bits (RFC 5280 §4.2.1.3), bit 0 = digitalSignature.</summary>
[Flags]
internal enum KeyUsageBits
{
    None = 0,
    DigitalSignature = 1 << 0,
    NonRepudiation = 1 << 1,
    KeyEncipherment = 1 << 2,
    DataEncipherment = 1 << 3,
    KeyAgreement = 1 << 4,
    KeyCertSign = 1 << 5,
    CrlSign = 1 << 6,
    EncipherOnly = 1 << 7,
    DecipherOnly = 1 << 8,
}

/// <summary>
/// The parts of one X.509 certificate that SVID rules and RFC 5280 path validation need, read
/// from the DER in one pass (no X509Chain, no OpenSSL round trips), with the public key loaded
/// once on first use. Immutable once built, so a cached instance may be shared across threads.
/// </summary>
internal sealed class X509CertificateInfo
{
    private const string SubjectAltNameOid = "2.5.29.17";
    private const string BasicConstraintsOid = "2.5.29.19";
    private const string KeyUsageOid = "2.5.29.15";

    /// <summary>Extensions this code understands well enough to accept when critical.</summary>
    /// <remarks>
    /// Name constraints (2.5.29.30) and policy constraints (2.5.29.36) are not processed, so a
    /// critical one is rejected as RFC 5280 §4.2 requires. Certificate policies (2.5.29.32) are
    /// accepted: with no initial policy set and no policy constraints, RFC 5280 §6.1 processing
    /// of them cannot fail.
    /// </remarks>
    private static readonly HashSet<string> UnderstoodCriticalExtensions = new(StringComparer.Ordinal)
    {
        SubjectAltNameOid,
        BasicConstraintsOid,
        KeyUsageOid,
        "2.5.29.37", // extKeyUsage
        "2.5.29.14", // subjectKeyIdentifier
        "2.5.29.35", // authorityKeyIdentifier
        "2.5.29.32", // certificatePolicies
    };

    private object? _publicKey;

    private X509CertificateInfo()
    {
    }

    public ReadOnlyMemory<byte> Der { get; private init; }

    public ReadOnlyMemory<byte> Tbs { get; private init; }

    public ReadOnlyMemory<byte> Signature { get; private init; }

    /// <summary>How this certificate's signature is checked, or null when unsupported.</summary>
    public SignatureScheme? SignatureScheme { get; private init; }

    public string SignatureAlgorithmOid { get; private init; } = string.Empty;

    public ReadOnlyMemory<byte> Issuer { get; private init; }

    public ReadOnlyMemory<byte> Subject { get; private init; }

    public DateTimeOffset NotBefore { get; private init; }

    public DateTimeOffset NotAfter { get; private init; }

    public ReadOnlyMemory<byte> SubjectPublicKeyInfo { get; private init; }

    public bool HasBasicConstraints { get; private init; }

    public bool IsCa { get; private init; }

    /// <summary>pathLenConstraint, when present.</summary>
    public int? PathLength { get; private init; }

    public bool HasKeyUsage { get; private init; }

    public KeyUsageBits KeyUsage { get; private init; }

    public IReadOnlyList<string> UriSans { get; private init; } = [];

    /// <summary>The OID of the first critical extension not understood, or null.</summary>
    public string? UnsupportedCriticalExtension { get; private init; }

    public bool IsSelfIssued => Issuer.Span.SequenceEqual(Subject.Span);

    /// <summary>Parses certificate DER. With <paramref name="copy"/> the bytes are copied so the result outlives the caller's buffer.</summary>
    /// <exception cref="FormatException">The DER is not a certificate this code can read; the message says why.</exception>
    public static X509CertificateInfo Parse(ReadOnlyMemory<byte> der, bool copy)
    {
        if (copy)
        {
            der = der.ToArray();
        }

        try
        {
            return ParseCore(der);
        }
        catch (AsnContentException ex)
        {
            throw new FormatException("certificate is not valid DER", ex);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("certificate is not valid DER", ex);
        }
    }

    private static X509CertificateInfo ParseCore(ReadOnlyMemory<byte> der)
    {
        var outer = new AsnReader(der, AsnEncodingRules.DER);
        var certificate = outer.ReadSequence();
        outer.ThrowIfNotEmpty();

        var tbs = certificate.ReadEncodedValue();
        var outerAlgorithm = certificate.ReadEncodedValue();
        var signature = certificate.ReadBitString(out var unusedBits);
        certificate.ThrowIfNotEmpty();
        if (unusedBits != 0)
        {
            throw new FormatException("certificate signature is not a whole number of bytes");
        }

        var tbsReader = new AsnReader(tbs, AsnEncodingRules.DER).ReadSequence();
        var version = 0;
        var versionTag = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
        if (tbsReader.PeekTag().HasSameClassAndValue(versionTag))
        {
            var explicitVersion = tbsReader.ReadSequence(versionTag);
            if (!explicitVersion.TryReadInt32(out version) || version is < 0 or > 2)
            {
                throw new FormatException("certificate version is not v1, v2 or v3");
            }

            explicitVersion.ThrowIfNotEmpty();
        }

        tbsReader.ReadIntegerBytes();
        var innerAlgorithm = tbsReader.ReadEncodedValue();
        if (!innerAlgorithm.Span.SequenceEqual(outerAlgorithm.Span))
        {
            // RFC 5280 §4.1.1.2: the two algorithm identifiers MUST be equal.
            throw new FormatException("certificate signature algorithm differs from the one in the signed part");
        }

        var issuer = tbsReader.ReadEncodedValue();
        var validity = tbsReader.ReadSequence();
        var notBefore = ReadTime(validity);
        var notAfter = ReadTime(validity);
        validity.ThrowIfNotEmpty();
        var subject = tbsReader.ReadEncodedValue();
        var spki = tbsReader.ReadEncodedValue();

        // issuerUniqueID [1] and subjectUniqueID [2] carry nothing we use.
        foreach (var tagNumber in new[] { 1, 2 })
        {
            if (tbsReader.HasData && tbsReader.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, tagNumber)))
            {
                tbsReader.ReadEncodedValue();
            }
        }

        var hasBasicConstraints = false;
        var isCa = false;
        int? pathLength = null;
        var hasKeyUsage = false;
        var keyUsage = KeyUsageBits.None;
        var uris = new List<string>();
        string? unsupportedCritical = null;

        var extensionsTag = new Asn1Tag(TagClass.ContextSpecific, 3, isConstructed: true);
        if (tbsReader.HasData && tbsReader.PeekTag().HasSameClassAndValue(extensionsTag))
        {
            if (version != 2)
            {
                throw new FormatException("certificate has extensions but is not v3");
            }

            var extensions = tbsReader.ReadSequence(extensionsTag).ReadSequence();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (extensions.HasData)
            {
                var extension = extensions.ReadSequence();
                var oid = extension.ReadObjectIdentifier();
                var critical = false;
                if (extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
                {
                    critical = extension.ReadBoolean();
                }

                var value = extension.ReadOctetString();
                extension.ThrowIfNotEmpty();
                if (!seen.Add(oid))
                {
                    // RFC 5280 §4.2: at most one instance of a particular extension.
                    throw new FormatException($"certificate has extension {oid} more than once");
                }

                switch (oid)
                {
                    case BasicConstraintsOid:
                        hasBasicConstraints = true;
                        (isCa, pathLength) = ReadBasicConstraints(value);
                        break;
                    case KeyUsageOid:
                        hasKeyUsage = true;
                        keyUsage = new AsnReader(value, AsnEncodingRules.DER).ReadNamedBitListValue<KeyUsageBits>();
                        break;
                    case SubjectAltNameOid:
                        ReadUris(value, uris);
                        break;
                    default:
                        break;
                }

                if (critical && unsupportedCritical is null && !UnderstoodCriticalExtensions.Contains(oid))
                {
                    unsupportedCritical = oid;
                }
            }
        }

        tbsReader.ThrowIfNotEmpty();

        var (algorithmOid, scheme) = ReadSignatureAlgorithm(outerAlgorithm);
        return new X509CertificateInfo
        {
            Der = der,
            Tbs = tbs,
            Signature = signature,
            SignatureAlgorithmOid = algorithmOid,
            SignatureScheme = scheme,
            Issuer = issuer,
            Subject = subject,
            NotBefore = notBefore,
            NotAfter = notAfter,
            SubjectPublicKeyInfo = spki,
            HasBasicConstraints = hasBasicConstraints,
            IsCa = isCa,
            PathLength = pathLength,
            HasKeyUsage = hasKeyUsage,
            KeyUsage = keyUsage,
            UriSans = uris,
            UnsupportedCriticalExtension = unsupportedCritical,
        };
    }

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime)
            ? reader.ReadUtcTime(twoDigitYearMax: 2049) // RFC 5280 §4.1.2.5.1
            : reader.ReadGeneralizedTime();

    private static (bool IsCa, int? PathLength) ReadBasicConstraints(byte[] value)
    {
        var reader = new AsnReader(value, AsnEncodingRules.DER);
        var sequence = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        var isCa = false;
        int? pathLength = null;
        if (sequence.HasData && sequence.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean))
        {
            isCa = sequence.ReadBoolean();
        }

        if (sequence.HasData)
        {
            if (!sequence.TryReadInt32(out var length) || length < 0)
            {
                throw new FormatException("certificate pathLenConstraint is out of range");
            }

            pathLength = length;
        }

        sequence.ThrowIfNotEmpty();
        return (isCa, pathLength);
    }

    private static void ReadUris(byte[] value, List<string> uris)
    {
        var reader = new AsnReader(value, AsnEncodingRules.DER);
        var names = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        while (names.HasData)
        {
            if (names.PeekTag().HasSameClassAndValue(uriTag))
            {
                uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
            }
            else
            {
                names.ReadEncodedValue();
            }
        }
    }

    private static (string Oid, SignatureScheme? Scheme) ReadSignatureAlgorithm(ReadOnlyMemory<byte> algorithmIdentifier)
    {
        var reader = new AsnReader(algorithmIdentifier, AsnEncodingRules.DER).ReadSequence();
        var oid = reader.ReadObjectIdentifier();
        ReadOnlyMemory<byte>? parameters = reader.HasData ? reader.ReadEncodedValue() : null;
        reader.ThrowIfNotEmpty();
        return (oid, Internal.SignatureScheme.FromAlgorithm(oid, parameters));
    }

    /// <summary>True when this certificate's key made <paramref name="child"/>'s signature.</summary>
    /// <remarks>The caller checks <paramref name="child"/>.<see cref="SignatureScheme"/> is not null first.</remarks>
    public bool Signed(X509CertificateInfo child)
    {
        if (child.SignatureScheme is not { } scheme)
        {
            return false;
        }

        var key = GetPublicKey();
        try
        {
            return key switch
            {
                ECDsa ecdsa when scheme.Padding is null =>
                    ecdsa.VerifyData(child.Tbs.Span, child.Signature.Span, scheme.Hash, DSASignatureFormat.Rfc3279DerSequence),
                RSA rsa when scheme.Padding is { } padding =>
                    rsa.VerifyData(child.Tbs.Span, child.Signature.Span, scheme.Hash, padding),
                _ => false,
            };
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>
    /// The public key as an <see cref="ECDsa"/> or <see cref="RSA"/>, or a sentinel when the key
    /// is of another kind or does not load (such a certificate signs nothing here). The instance
    /// is only ever used to verify, which the OpenSSL-backed implementations allow concurrently.
    /// </summary>
    private object GetPublicKey()
    {
        var key = Volatile.Read(ref _publicKey);
        if (key is not null)
        {
            return key;
        }

        key = LoadPublicKey(SubjectPublicKeyInfo.Span);
        return Interlocked.CompareExchange(ref _publicKey, key, null) ?? key;
    }

    private static object LoadPublicKey(ReadOnlySpan<byte> spki)
    {
        try
        {
            switch (PublicKeys.ReadAlgorithmOid(spki))
            {
                case PublicKeys.EcPublicKeyOid:
                    var ecdsa = ECDsa.Create();
                    ecdsa.ImportSubjectPublicKeyInfo(spki, out _);
                    return ecdsa;
                case PublicKeys.RsaEncryptionOid:
                    var rsa = RSA.Create();
                    rsa.ImportSubjectPublicKeyInfo(spki, out _);
                    return rsa;
                default:
                    return UnusableKey;
            }
        }
        catch (CryptographicException)
        {
            return UnusableKey;
        }
        catch (FormatException)
        {
            return UnusableKey;
        }
        catch (PlatformNotSupportedException)
        {
            // An EC key on a curve the platform's crypto does not know (found by fuzz/run x509-svid).
            return UnusableKey;
        }
    }

    private static readonly object UnusableKey = new();
}
