using System.Formats.Asn1;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>The kinds of subject key an SVID or CA may carry.</summary>
internal enum SubjectKeyKind
{
    EcP256,
    EcP384,
    Rsa,
}

/// <summary>
/// Structural checks of a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 5480, RFC 3279 §2.3.1)
/// without loading the key: cheap enough to run on every issuance.
/// </summary>
internal static class SubjectKeys
{
    public const string EcPublicKeyOid = "1.2.840.10045.2.1";
    public const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
    public const string P256Oid = "1.2.840.10045.3.1.7";
    public const string P384Oid = "1.3.132.0.34";
    public const string P521Oid = "1.3.132.0.35";
    public const int MinimumRsaBits = 2048;
    public const int MaximumRsaBits = 8192;

    // RSA verification costs grow with the public exponent's length: a CSR with a 3,070-bit exponent
    // costs ~15 times a normal one. 65537 is what every producer uses; anything up to 2^32 is allowed.
    private static readonly BigInteger MaximumRsaExponent = BigInteger.One << 32;

    /// <summary>
    /// Checks that <paramref name="spki"/> is exactly one DER SubjectPublicKeyInfo of a supported key
    /// (EC P-256/P-384 with an uncompressed point, or RSA of 2048 to 8192 bits with a public exponent of at most 2^32) and returns its kind.
    /// </summary>
    /// <param name="spki">The encoded key.</param>
    /// <param name="what">Names the key in messages: <c>public key</c> or <c>csr key</c>.</param>
    /// <exception cref="FormatException">Malformed or unsupported; the message says which.</exception>
    public static SubjectKeyKind Inspect(ReadOnlySpan<byte> spki, string what)
    {
        string? unsupported;
        SubjectKeyKind kind;
        try
        {
            kind = InspectCore(spki, out unsupported);
        }
        catch (AsnContentException ex)
        {
            throw new FormatException($"{what} is not a valid SubjectPublicKeyInfo", ex);
        }

        if (unsupported is not null)
        {
            throw new FormatException($"{what} type {unsupported} not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)");
        }

        return kind;
    }

    private static SubjectKeyKind InspectCore(ReadOnlySpan<byte> spki, out string? unsupported)
    {
        unsupported = null;
        AsnDecoder.ReadSequence(spki, AsnEncodingRules.DER, out var contentOffset, out var contentLength, out var consumed);
        if (consumed != spki.Length)
        {
            throw new AsnContentException("trailing data");
        }

        var content = spki.Slice(contentOffset, contentLength);
        AsnDecoder.ReadSequence(content, AsnEncodingRules.DER, out var algOffset, out var algLength, out var algConsumed);
        var alg = content.Slice(algOffset, algLength);
        var oid = AsnDecoder.ReadObjectIdentifier(alg, AsnEncodingRules.DER, out var oidConsumed);
        var parameters = alg[oidConsumed..];
        var rest = content[algConsumed..];
        if (!AsnDecoder.TryReadPrimitiveBitString(rest, AsnEncodingRules.DER, out var unusedBits, out var bits, out var bitsConsumed)
            || unusedBits != 0 || bitsConsumed != rest.Length || bits.IsEmpty)
        {
            throw new AsnContentException("bad key bit string");
        }

        switch (oid)
        {
            case EcPublicKeyOid:
            {
                var curve = AsnDecoder.ReadObjectIdentifier(parameters, AsnEncodingRules.DER, out var curveConsumed);
                if (curveConsumed != parameters.Length)
                {
                    throw new AsnContentException("trailing curve parameters");
                }

                var (kindFor, pointLength) = curve switch
                {
                    P256Oid => (SubjectKeyKind.EcP256, 65),
                    P384Oid => (SubjectKeyKind.EcP384, 97),
                    _ => ((SubjectKeyKind?)null, 0),
                };
                if (kindFor is null)
                {
                    unsupported = curve == P521Oid ? "ec-p521" : "ec (curve " + curve + ")";
                    return default;
                }

                // Only the uncompressed form (0x04 || X || Y), as every X.509 producer emits.
                if (bits.Length != pointLength || bits[0] != 0x04)
                {
                    throw new AsnContentException("bad ec point");
                }

                return kindFor.Value;
            }

            case RsaEncryptionOid:
            {
                AsnDecoder.ReadNull(parameters, AsnEncodingRules.DER, out var nullConsumed);
                if (nullConsumed != parameters.Length)
                {
                    throw new AsnContentException("trailing rsa parameters");
                }

                AsnDecoder.ReadSequence(bits, AsnEncodingRules.DER, out var keyOffset, out var keyLength, out var keyConsumed);
                if (keyConsumed != bits.Length)
                {
                    throw new AsnContentException("trailing rsa key");
                }

                var key = bits.Slice(keyOffset, keyLength);
                var modulus = AsnDecoder.ReadIntegerBytes(key, AsnEncodingRules.DER, out var modulusConsumed);
                var exponentBytes = AsnDecoder.ReadIntegerBytes(key[modulusConsumed..], AsnEncodingRules.DER, out var exponentConsumed);
                if (modulusConsumed + exponentConsumed != key.Length || modulus[0] >= 0x80 || exponentBytes[0] >= 0x80)
                {
                    throw new AsnContentException("bad rsa key");
                }

                var modulusBits = ModulusBits(modulus);
                if (modulusBits is < MinimumRsaBits or > MaximumRsaBits)
                {
                    unsupported = "rsa-" + modulusBits.ToString(CultureInfo.InvariantCulture);
                    return default;
                }

                // Judged by length before any arithmetic on it.
                var exponentBits = ModulusBits(exponentBytes);
                var exponent = exponentBits <= 33 ? new BigInteger(exponentBytes, isUnsigned: true, isBigEndian: true) : BigInteger.Zero;
                if (exponentBits > 33 || exponent > MaximumRsaExponent)
                {
                    unsupported = "rsa with a " + exponentBits.ToString(CultureInfo.InvariantCulture) + "-bit public exponent";
                    return default;
                }

                if (exponent < 3 || exponent.IsEven)
                {
                    throw new AsnContentException("bad rsa key");
                }

                return SubjectKeyKind.Rsa;
            }

            default:
                unsupported = oid switch
                {
                    "1.3.101.112" => "ed25519",
                    "1.3.101.113" => "ed448",
                    "1.2.840.10040.4.1" => "dsa",
                    _ => oid,
                };
                return default;
        }
    }

    private static int ModulusBits(ReadOnlySpan<byte> positiveInteger)
    {
        var start = positiveInteger.Length > 1 && positiveInteger[0] == 0 ? 1 : 0;
        var magnitude = positiveInteger[start..];
        return magnitude.IsEmpty ? 0 : ((magnitude.Length - 1) * 8) + (32 - BitOperations.LeadingZeroCount((uint)magnitude[0]));
    }

    /// <summary>
    /// The key identifier of RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 hash of the
    /// subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2 allows any method; this avoids SHA-1).
    /// </summary>
    /// <param name="spki">A SubjectPublicKeyInfo already checked by <see cref="Inspect"/>.</param>
    /// <param name="destination">20 bytes.</param>
    public static void KeyIdentifier(ReadOnlySpan<byte> spki, Span<byte> destination)
    {
        // The BIT STRING contents start with the unused-bits octet (always 0 for keys), skipped here.
        var key = PublicKeyBits(spki);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(key, hash);
        hash[..KeyIdentifierLength].CopyTo(destination);
    }

    /// <summary>The subjectPublicKey BIT STRING value (for EC: the point) of a checked SubjectPublicKeyInfo.</summary>
    public static ReadOnlySpan<byte> PublicKeyBits(ReadOnlySpan<byte> spki)
    {
        AsnDecoder.ReadSequence(spki, AsnEncodingRules.DER, out var contentOffset, out var contentLength, out _);
        var content = spki.Slice(contentOffset, contentLength);
        AsnDecoder.ReadEncodedValue(content, AsnEncodingRules.DER, out _, out _, out var algConsumed);
        AsnDecoder.ReadEncodedValue(content[algConsumed..], AsnEncodingRules.DER, out var bitsOffset, out var bitsLength, out _);
        return content.Slice(algConsumed + bitsOffset + 1, bitsLength - 1);
    }

    /// <summary>The length of <see cref="KeyIdentifier(ReadOnlySpan{byte}, Span{byte})"/>.</summary>
    public const int KeyIdentifierLength = 20;

    /// <summary>The key identifier as a new array.</summary>
    public static byte[] KeyIdentifier(ReadOnlySpan<byte> spki)
    {
        var id = new byte[KeyIdentifierLength];
        KeyIdentifier(spki, id);
        return id;
    }
}
