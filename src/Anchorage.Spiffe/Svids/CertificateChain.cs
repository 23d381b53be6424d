using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Anchorage.Spiffe.Svids;

/// <summary>Reads certificate lists from files: PEM <c>CERTIFICATE</c> blocks or concatenated DER.</summary>
public static class CertificateChain
{
    /// <summary>
    /// Parses <paramref name="content"/> as PEM (when it holds a <c>-----BEGIN</c> line) or as
    /// concatenated DER certificates (when it starts with a SEQUENCE), in file order.
    /// </summary>
    /// <exception cref="FormatException">A certificate does not decode; the message gives its position.</exception>
    public static List<X509Certificate2> Parse(ReadOnlySpan<byte> content)
    {
        if (LooksLikePem(content))
        {
            return Internal.Pem.ReadCertificates(Encoding.UTF8.GetString(content));
        }

        if (!content.IsEmpty && content[0] == 0x30)
        {
            return Internal.Der.ReadCertificates(content);
        }

        throw new FormatException(content.IsEmpty ? "no certificates found" : "certificates are neither PEM nor DER");
    }

    /// <summary>True when the bytes hold a PEM BEGIN marker (text before it, as openssl writes, is allowed).</summary>
    internal static bool LooksLikePem(ReadOnlySpan<byte> content) => content.IndexOf("-----BEGIN "u8) >= 0;
}
