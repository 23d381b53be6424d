using System.Buffers.Text;
using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// JWK public key parameters to and from SubjectPublicKeyInfo DER (RFC 7518 §6), for EC
/// P-256/P-384/P-521 and RSA. Errors are returned as short lowercase reasons without key material.
/// </summary>
internal static class Jwk
{
    internal const string KtyEc = "EC";
    internal const string KtyRsa = "RSA";

    /// <summary>RSA moduli below this are refused (NIST SP 800-131A disallows &lt; 2048 bits).</summary>
    internal const int MinRsaBits = 2048;

    /// <summary>RSA moduli above this are refused: no real authority uses them, and they cost CPU.</summary>
    internal const int MaxRsaBits = 16384;

    private static readonly (string Crv, string Oid, int Size)[] Curves =
    [
        ("P-256", "1.2.840.10045.3.1.7", 32),
        ("P-384", "1.3.132.0.34", 48),
        ("P-521", "1.3.132.0.35", 66),
    ];

    /// <summary>The coordinate size in bytes of a supported curve name, or 0.</summary>
    internal static int CurveSize(string crv)
    {
        foreach (var curve in Curves)
        {
            if (curve.Crv == crv)
            {
                return curve.Size;
            }
        }

        return 0;
    }

    /// <summary>Decodes RFC 7515 base64url (unpadded; trailing '=' tolerated, as go-jose does).</summary>
    internal static bool TryDecodeBase64Url(string text, out byte[] bytes)
    {
        bytes = [];
        var trimmed = text.AsSpan().TrimEnd('=');
        if (trimmed.Length % 4 == 1 || text.Length - trimmed.Length > 2)
        {
            return false;
        }

        foreach (var c in trimmed)
        {
            if (c is not ((>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_'))
            {
                return false;
            }
        }

        try
        {
            bytes = Base64Url.DecodeFromChars(trimmed);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    internal static string EncodeBase64Url(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>
    /// The JWK parameters of a SubjectPublicKeyInfo; null with <paramref name="error"/> set when the
    /// key is not EC on a supported curve or RSA within <see cref="MinRsaBits"/>..<see cref="MaxRsaBits"/>.
    /// </summary>
    internal static JwkKey? FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki, out string? error)
    {
        error = null;
        string algorithm;
        string? curveOid = null;
        try
        {
            var reader = new AsnReader(spki.ToArray(), AsnEncodingRules.DER);
            var info = reader.ReadSequence();
            var identifier = info.ReadSequence();
            algorithm = identifier.ReadObjectIdentifier();
            if (algorithm == PublicKeys.EcPublicKeyOid && identifier.HasData &&
                identifier.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier))
            {
                curveOid = identifier.ReadObjectIdentifier();
            }
        }
        catch (AsnContentException)
        {
            error = "public key is not a valid SubjectPublicKeyInfo";
            return null;
        }

        try
        {
            switch (algorithm)
            {
                case PublicKeys.EcPublicKeyOid:
                    foreach (var curve in Curves)
                    {
                        if (curve.Oid == curveOid)
                        {
                            using var ec = ECDsa.Create();
                            ec.ImportSubjectPublicKeyInfo(spki, out _);
                            var p = ec.ExportParameters(false);
                            return JwkKey.Ec(curve.Crv, LeftPad(p.Q.X!, curve.Size), LeftPad(p.Q.Y!, curve.Size));
                        }
                    }

                    error = $"EC curve {curveOid ?? "(explicit parameters)"} is not supported";
                    return null;
                case PublicKeys.RsaEncryptionOid:
                    using (var rsa = RSA.Create())
                    {
                        rsa.ImportSubjectPublicKeyInfo(spki, out _);
                        var p = rsa.ExportParameters(false);
                        var key = JwkKey.Rsa(StripLeadingZeros(p.Modulus!), StripLeadingZeros(p.Exponent!));
                        error = CheckRsa(key.First, key.Second);
                        return error is null ? key : null;
                    }

                default:
                    error = $"public key algorithm {algorithm} is not supported";
                    return null;
            }
        }
        catch (CryptographicException)
        {
            error = "public key is not valid";
            return null;
        }
    }

    /// <summary>The SubjectPublicKeyInfo DER of validated JWK parameters.</summary>
    /// <exception cref="CryptographicException">The parameters are not a valid public key (e.g. a point off the curve).</exception>
    internal static byte[] ToSubjectPublicKeyInfo(JwkKey key)
    {
        if (key.Kty == KtyEc)
        {
            var curve = key.Crv switch
            {
                "P-256" => ECCurve.NamedCurves.nistP256,
                "P-384" => ECCurve.NamedCurves.nistP384,
                "P-521" => ECCurve.NamedCurves.nistP521,
                _ => throw new CryptographicException("unsupported curve"),
            };
            using var ec = ECDsa.Create();
            ec.ImportParameters(new ECParameters { Curve = curve, Q = new ECPoint { X = key.First, Y = key.Second } });
            return ec.ExportSubjectPublicKeyInfo();
        }

        using var rsa = RSA.Create();
        rsa.ImportParameters(new RSAParameters { Modulus = key.First, Exponent = key.Second });
        return rsa.ExportSubjectPublicKeyInfo();
    }

    /// <summary>RSA sanity rules for already stripped <paramref name="n"/> and <paramref name="e"/>; null when fine.</summary>
    internal static string? CheckRsa(ReadOnlySpan<byte> n, ReadOnlySpan<byte> e)
    {
        var bits = n.IsEmpty ? 0 : ((n.Length - 1) * 8) + (32 - System.Numerics.BitOperations.LeadingZeroCount((uint)n[0]));
        if (bits < MinRsaBits || bits > MaxRsaBits)
        {
            return $"RSA modulus must be between {MinRsaBits} and {MaxRsaBits} bits";
        }

        // e must be odd and greater than 1; more than 8 bytes is not a real public exponent.
        if (e.IsEmpty || e.Length > 8 || (e[^1] & 1) == 0 || (e.Length == 1 && e[0] == 1))
        {
            return "RSA exponent is not valid";
        }

        return null;
    }

    internal static byte[] StripLeadingZeros(byte[] value)
    {
        var i = 0;
        while (i < value.Length && value[i] == 0)
        {
            i++;
        }

        return i == 0 ? value : value[i..];
    }

    private static byte[] LeftPad(byte[] value, int size)
    {
        if (value.Length >= size)
        {
            return value;
        }

        var result = new byte[size];
        value.CopyTo(result, size - value.Length);
        return result;
    }
}
