using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>Key id rules shared by the key managers (the id is also a file name), and PKCS#8 loading.</summary>
internal static class KeyIds
{
    public const int MaxLength = 128;

    public static void Validate(string keyId, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(keyId, parameterName);
        var valid = keyId.Length is > 0 and <= MaxLength && keyId[0] != '.';
        foreach (var c in keyId)
        {
            valid &= char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-';
        }

        if (!valid)
        {
            throw new ArgumentException(
                "key id must be 1 to 128 characters of ASCII letters, digits, '.', '_' or '-', not starting with '.'",
                parameterName);
        }
    }

    /// <summary>Loads a PKCS#8 PrivateKeyInfo (DER) as an ECDsa or RSA key.</summary>
    /// <exception cref="CryptographicException">Not a PKCS#8 EC or RSA key.</exception>
    public static AsymmetricAlgorithm ImportPkcs8(ReadOnlySpan<byte> pkcs8)
    {
        string algorithm;
        try
        {
            AsnDecoder.ReadSequence(pkcs8, AsnEncodingRules.DER, out var offset, out var length, out _);
            var content = pkcs8.Slice(offset, length);
            AsnDecoder.ReadEncodedValue(content, AsnEncodingRules.DER, out _, out _, out var versionConsumed);
            AsnDecoder.ReadSequence(content[versionConsumed..], AsnEncodingRules.DER, out var algOffset, out var algLength, out _);
            algorithm = AsnDecoder.ReadObjectIdentifier(content.Slice(versionConsumed + algOffset, algLength), AsnEncodingRules.DER, out _);
        }
        catch (AsnContentException ex)
        {
            throw new CryptographicException("not a PKCS#8 private key", ex);
        }

        AsymmetricAlgorithm key = algorithm switch
        {
            SubjectKeys.RsaEncryptionOid => RSA.Create(),
            SubjectKeys.EcPublicKeyOid => ECDsa.Create(),
            _ => throw new CryptographicException($"private key algorithm {algorithm} is not EC or RSA"),
        };
        try
        {
            key.ImportPkcs8PrivateKey(pkcs8, out _);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }
}
