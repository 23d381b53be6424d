using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Spiffe.Internal;

/// <summary>PEM reading shared by bundles and SVIDs: one pass, labelled errors.</summary>
internal static class Pem
{
    /// <summary>One decoded PEM block.</summary>
    internal readonly record struct Block(string Label, byte[] Data, int Index);

    /// <summary>Every PEM block in <paramref name="text"/>, in order.</summary>
    /// <exception cref="FormatException">A block's base64 body is malformed.</exception>
    internal static List<Block> ReadBlocks(ReadOnlySpan<char> text)
    {
        var blocks = new List<Block>();
        var offset = 0;
        while (offset < text.Length && PemEncoding.TryFind(text[offset..], out var fields))
        {
            var slice = text[offset..];
            var label = slice[fields.Label].ToString();
            var data = new byte[fields.DecodedDataLength];
            if (!Convert.TryFromBase64Chars(slice[fields.Base64Data], data, out var written))
            {
                throw new FormatException($"PEM block {blocks.Count + 1} ({label}) has malformed base64");
            }

            blocks.Add(new Block(label, data[..written], blocks.Count + 1));
            offset += fields.Location.End.Value;
        }

        if (blocks.Count == 0 && text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            throw new FormatException("PEM data is malformed (no complete BEGIN/END block)");
        }

        return blocks;
    }

    /// <summary>The <c>CERTIFICATE</c> blocks of <paramref name="text"/>, decoded.</summary>
    /// <exception cref="FormatException">A certificate does not decode; the message gives its position.</exception>
    internal static List<X509Certificate2> ReadCertificates(ReadOnlySpan<char> text)
    {
        var result = new List<X509Certificate2>();
        foreach (var block in ReadBlocks(text))
        {
            if (block.Label == "CERTIFICATE")
            {
                result.Add(Der.LoadCertificate(block.Data, $"certificate {result.Count + 1}"));
            }
        }

        return result;
    }
}
