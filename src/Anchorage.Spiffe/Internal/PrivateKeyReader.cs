using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// Loads an EC or RSA private key from PKCS#8 (the Workload API's encoding), SEC 1
/// (<c>EC PRIVATE KEY</c>) or PKCS#1 (<c>RSA PRIVATE KEY</c>). Errors never include key bytes.
/// </summary>
internal static class PrivateKeyReader
{
    internal const string Pkcs8Label = "PRIVATE KEY";
    internal const string Sec1Label = "EC PRIVATE KEY";
    internal const string Pkcs1Label = "RSA PRIVATE KEY";
    internal const string EncryptedPkcs8Label = "ENCRYPTED PRIVATE KEY";

    internal static bool IsKeyLabel(string label) =>
        label is Pkcs8Label or Sec1Label or Pkcs1Label or EncryptedPkcs8Label;

    /// <summary>Loads a key from a PEM block with one of the key labels.</summary>
    /// <exception cref="FormatException">The key does not load or its algorithm is unsupported.</exception>
    internal static AsymmetricAlgorithm FromPemBlock(string label, ReadOnlySpan<byte> der) => label switch
    {
        Pkcs8Label => FromPkcs8(der),
        Sec1Label => Import(ECDsa.Create(), der, static (k, d) => k.ImportECPrivateKey(d, out _), "EC private key"),
        Pkcs1Label => Import(RSA.Create(), der, static (k, d) => k.ImportRSAPrivateKey(d, out _), "RSA private key"),
        EncryptedPkcs8Label => throw new FormatException("private key is encrypted; an unencrypted PKCS#8 key is required"),
        _ => throw new FormatException($"PEM block \"{label}\" is not a private key"),
    };

    /// <summary>Loads DER: PKCS#8, or SEC 1 / PKCS#1 told apart by their structure.</summary>
    /// <exception cref="FormatException">The key does not load or its algorithm is unsupported.</exception>
    internal static AsymmetricAlgorithm FromDer(ReadOnlySpan<byte> der)
    {
        // PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE (algorithm), OCTET STRING }
        // SEC 1:  SEQUENCE { INTEGER 1, OCTET STRING, ... }
        // PKCS#1: SEQUENCE { INTEGER 0, INTEGER n, ... }
        Asn1Tag second;
        try
        {
            var sequence = new AsnReader(der.ToArray(), AsnEncodingRules.DER).ReadSequence();
            sequence.ReadIntegerBytes();
            second = sequence.PeekTag();
        }
        catch (AsnContentException ex)
        {
            throw new FormatException("private key is not valid DER", ex);
        }

        if (second.HasSameClassAndValue(Asn1Tag.Sequence))
        {
            return FromPkcs8(der);
        }

        if (second.HasSameClassAndValue(Asn1Tag.PrimitiveOctetString))
        {
            return FromPemBlock(Sec1Label, der);
        }

        return second.HasSameClassAndValue(Asn1Tag.Integer)
            ? FromPemBlock(Pkcs1Label, der)
            : throw new FormatException("private key is not PKCS#8, SEC 1 or PKCS#1");
    }

    /// <exception cref="FormatException">The key does not load or its algorithm is unsupported.</exception>
    internal static AsymmetricAlgorithm FromPkcs8(ReadOnlySpan<byte> der)
    {
        string oid;
        try
        {
            var info = new AsnReader(der.ToArray(), AsnEncodingRules.BER).ReadSequence();
            info.ReadIntegerBytes();
            oid = info.ReadSequence().ReadObjectIdentifier();
        }
        catch (AsnContentException ex)
        {
            throw new FormatException("private key is not a valid PKCS#8 key", ex);
        }

        return oid switch
        {
            PublicKeys.EcPublicKeyOid => Import(ECDsa.Create(), der, static (k, d) => k.ImportPkcs8PrivateKey(d, out _), "PKCS#8 EC private key"),
            PublicKeys.RsaEncryptionOid => Import(RSA.Create(), der, static (k, d) => k.ImportPkcs8PrivateKey(d, out _), "PKCS#8 RSA private key"),
            _ => throw new FormatException($"private key algorithm {oid} is not supported; only EC and RSA keys are"),
        };
    }

    private delegate void Importer<in TKey>(TKey key, ReadOnlySpan<byte> der);

    private static TKey Import<TKey>(TKey key, ReadOnlySpan<byte> der, Importer<TKey> import, string what)
        where TKey : AsymmetricAlgorithm
    {
        try
        {
            import(key, der);
            return key;
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            // PlatformNotSupportedException: the key names a curve OpenSSL does not know.
            key.Dispose();
            throw new FormatException($"private key is not a valid {what}", ex);
        }
    }
}
