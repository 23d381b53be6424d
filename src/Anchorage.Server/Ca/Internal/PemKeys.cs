using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>The server's one reader of a PEM private key from a file an operator gives (the upstream CA's key, the bundle endpoint's serving key).</summary>
internal static class PemKeys
{
    /// <summary>The EC or RSA private key in <paramref name="pem"/>.</summary>
    /// <param name="pem">The file's text.</param>
    /// <param name="what">The file as the error names it (<c>upstream key file</c>).</param>
    /// <exception cref="FormatException">No EC or RSA private key is in the text.</exception>
    public static AsymmetricAlgorithm ReadPrivateKey(string pem, string what)
    {
        // ImportFromPem picks the PEM block of its own algorithm; try EC first, then RSA.
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return ec;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            ec.Dispose();
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return rsa;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            rsa.Dispose();
            throw new FormatException($"{what} holds no EC or RSA private key", e);
        }
    }
}
