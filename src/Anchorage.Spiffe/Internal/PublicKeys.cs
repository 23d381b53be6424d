using System.Formats.Asn1;

namespace Anchorage.Spiffe.Internal;

/// <summary>Reads the algorithm of a SubjectPublicKeyInfo without loading the key.</summary>
internal static class PublicKeys
{
    internal const string EcPublicKeyOid = "1.2.840.10045.2.1";
    internal const string RsaEncryptionOid = "1.2.840.113549.1.1.1";

    /// <exception cref="FormatException">The bytes are not a SubjectPublicKeyInfo.</exception>
    internal static string ReadAlgorithmOid(ReadOnlySpan<byte> spki)
    {
        try
        {
            var reader = new AsnReader(spki.ToArray(), AsnEncodingRules.DER);
            var info = reader.ReadSequence();
            var algorithm = info.ReadSequence();
            return algorithm.ReadObjectIdentifier();
        }
        catch (AsnContentException ex)
        {
            throw new FormatException("public key is not a valid SubjectPublicKeyInfo", ex);
        }
    }
}
