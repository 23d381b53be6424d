using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Spiffe.Internal;

/// <summary>DER helpers: concatenating and splitting certificates, loading one with a clear error.</summary>
internal static class Der
{
    /// <summary>The certificates' DER back to back, in order (the Workload API's encoding of chains and bundles).</summary>
    internal static byte[] Concat(ReadOnlySpan<X509Certificate2> certificates)
    {
        var total = 0;
        foreach (var certificate in certificates)
        {
            total += certificate.RawDataMemory.Length;
        }

        var result = new byte[total];
        var offset = 0;
        foreach (var certificate in certificates)
        {
            certificate.RawDataMemory.Span.CopyTo(result.AsSpan(offset));
            offset += certificate.RawDataMemory.Length;
        }

        return result;
    }

    /// <summary>Splits concatenated DER certificates (ASN.1 SEQUENCEs back to back).</summary>
    /// <exception cref="FormatException">The bytes are not whole DER SEQUENCEs, or one is not a certificate.</exception>
    internal static List<X509Certificate2> ReadCertificates(ReadOnlySpan<byte> der)
    {
        var result = new List<X509Certificate2>();
        while (!der.IsEmpty)
        {
            int length;
            try
            {
                var tag = Asn1Tag.Decode(der, out _);
                if (!tag.HasSameClassAndValue(Asn1Tag.Sequence))
                {
                    throw new FormatException($"certificate {result.Count + 1} is not a DER SEQUENCE");
                }

                AsnDecoder.ReadEncodedValue(der, AsnEncodingRules.DER, out _, out _, out length);
            }
            catch (AsnContentException ex)
            {
                throw new FormatException($"certificate {result.Count + 1} is not valid DER: {ex.Message}", ex);
            }

            result.Add(LoadCertificate(der[..length], $"certificate {result.Count + 1}"));
            der = der[length..];
        }

        return result;
    }

    /// <summary>Loads one DER certificate; <paramref name="what"/> names it in the error.</summary>
    /// <exception cref="FormatException">The bytes are not an X.509 certificate.</exception>
    internal static X509Certificate2 LoadCertificate(ReadOnlySpan<byte> der, string what)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"{what} is not a valid X.509 certificate", ex);
        }
    }
}
