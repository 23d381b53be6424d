using System.Security.Cryptography;
using Anchorage.Spiffe.Svids;

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

    /// <summary>Loads a PKCS#8 PrivateKeyInfo (DER) as an ECDsa or RSA key, with the one key reader (the core library's).</summary>
    /// <exception cref="CryptographicException">Not a PKCS#8 EC or RSA key.</exception>
    public static AsymmetricAlgorithm ImportPkcs8(ReadOnlySpan<byte> pkcs8)
    {
        try
        {
            return PrivateKeys.ParsePkcs8(pkcs8);
        }
        catch (FormatException ex)
        {
            throw new CryptographicException(ex.Message, ex);
        }
    }
}
