using System.Security.Cryptography;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// Reads the private key of a key file an operator gives (an upstream CA's key, a serving key):
/// the same reader <see cref="X509Svid"/> uses, so every PEM key in Anchorage is read one way.
/// </summary>
public static class PrivateKeys
{
    /// <summary>
    /// The one EC or RSA private key in <paramref name="pem"/>: a <c>PRIVATE KEY</c> (PKCS#8),
    /// <c>EC PRIVATE KEY</c> (SEC 1) or <c>RSA PRIVATE KEY</c> (PKCS#1) block. Other blocks, such as
    /// certificates, are ignored. Errors never include key bytes.
    /// </summary>
    /// <exception cref="FormatException">
    /// No private key block, more than one, an encrypted key, or a key that does not load or whose
    /// algorithm is not EC or RSA; the message says which.
    /// </exception>
    public static AsymmetricAlgorithm ParsePem(ReadOnlySpan<char> pem)
    {
        var blocks = Pem.ReadBlocks(pem);
        try
        {
            var keys = blocks.Where(b => PrivateKeyReader.IsKeyLabel(b.Label)).ToList();
            return keys.Count switch
            {
                0 => throw new FormatException("no private key found"),
                1 => PrivateKeyReader.FromPemBlock(keys[0].Label, keys[0].Data),
                _ => throw new FormatException("more than one private key found"),
            };
        }
        finally
        {
            foreach (var block in blocks)
            {
                CryptographicOperations.ZeroMemory(block.Data);
            }
        }
    }

    /// <summary>
    /// An EC or RSA private key from a PKCS#8 <c>PrivateKeyInfo</c> in DER (what the body of a
    /// <c>PRIVATE KEY</c> block holds). Errors never include key bytes.
    /// </summary>
    /// <exception cref="FormatException">Not PKCS#8, or a key that does not load or whose algorithm is not EC or RSA; the message says which.</exception>
    public static AsymmetricAlgorithm ParsePkcs8(ReadOnlySpan<byte> der) => PrivateKeyReader.FromPkcs8(der);
}
