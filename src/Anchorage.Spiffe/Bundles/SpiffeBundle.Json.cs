using System.Text;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Bundles;

/// <summary>The SPIFFE bundle JSON codec (SPIFFE_Trust_Domain_and_Bundle §4) and file loading.</summary>
public sealed partial class SpiffeBundle
{
    /// <summary>The largest bundle document read, in bytes (JSON, PEM or DER).</summary>
    public const int MaxSize = 4 * 1024 * 1024;

    /// <summary>The most entries the <c>keys</c> array may have.</summary>
    public const int MaxKeys = 4096;

    /// <summary>Parses a SPIFFE bundle JWK Set; see the overload that reports warnings for the rules.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    /// <exception cref="FormatException">The document is malformed; the message names the key index.</exception>
    public static SpiffeBundle Parse(TrustDomain trustDomain, ReadOnlySpan<byte> utf8Json) =>
        Parse(trustDomain, utf8Json, out _);

    /// <summary>
    /// Parses a SPIFFE bundle JWK Set (SPIFFE_Trust_Domain_and_Bundle §4) for
    /// <paramref name="trustDomain"/>, which the document itself does not name (§3).
    /// </summary>
    /// <remarks>
    /// <para>Parses what the standards allow; each JWK that is skipped adds a line to <paramref name="warnings"/>:</para>
    /// <list type="bullet">
    /// <item>§4.2.1, §4.2.2: a JWK with a missing or unknown <c>kty</c> or <c>use</c> is ignored (so is an
    /// <c>oct</c> key: a shared secret never becomes an authority); so is an EC key on a curve other than
    /// P-256, P-384, P-521.</item>
    /// <item>X509-SVID §6.2: an x509-svid JWK without <c>x5c</c>, or with an empty one, is ignored; with several,
    /// only the first is used. A <c>kid</c> on it (forbidden by §6.1) is ignored.</item>
    /// <item>JWT-SVID §6.1: a jwt-svid JWK without <c>kid</c> is ignored (it cannot be addressed).</item>
    /// <item>A repeated x509-svid certificate, or a repeated jwt-svid kid with the same key, is ignored.</item>
    /// </list>
    /// <para>Refused with a <see cref="FormatException"/>: invalid JSON, a repeated member name, a missing
    /// <c>keys</c> (§4.1.3; <c>"keys": []</c> is valid and trusts nothing), <c>spiffe_sequence</c> that is not an
    /// unsigned 64-bit integer (§4.1.1), <c>spiffe_refresh_hint</c> that is not a non-negative integer (§4.1.2),
    /// key parameters that are missing, malformed, not full-length (RFC 7518 §6.2.1) or off the curve, an RSA
    /// modulus outside 2048..16384 bits, private key parameters, an <c>x5c</c> certificate whose key differs
    /// from the JWK's (RFC 7517 §4.7; SPIRE refuses the whole set too), a kid used for two different keys,
    /// more than <see cref="MaxKeys"/> keys or <see cref="MaxSize"/> bytes. Unknown members are ignored (§4.1).</para>
    /// </remarks>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    /// <exception cref="FormatException">The document is malformed; the message names the key index.</exception>
    public static SpiffeBundle Parse(TrustDomain trustDomain, ReadOnlySpan<byte> utf8Json, out IReadOnlyList<string> warnings)
    {
        ThrowIfEmpty(trustDomain);
        var list = new List<string>();
        var bundle = BundleJsonReader.Read(trustDomain, utf8Json, list);
        warnings = list;
        return bundle;
    }

    /// <summary>Loads a bundle file; see the overload that reports warnings.</summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    /// <exception cref="FormatException">The content is not a bundle in any of the accepted formats.</exception>
    public static SpiffeBundle Load(TrustDomain trustDomain, ReadOnlySpan<byte> content) =>
        Load(trustDomain, content, out _);

    /// <summary>
    /// Loads a bundle file of any of three formats, told apart by content: a SPIFFE bundle JWK Set (first
    /// non-whitespace character <c>{</c>), concatenated DER certificates (first byte 0x30), or PEM
    /// <c>CERTIFICATE</c> blocks (other PEM blocks are skipped with a warning naming only their label).
    /// PEM and DER give a bundle of X.509 authorities only, with no sequence number or refresh hint.
    /// </summary>
    /// <exception cref="ArgumentException">The trust domain is empty.</exception>
    /// <exception cref="FormatException">The content is not a bundle in any of the accepted formats.</exception>
    public static SpiffeBundle Load(TrustDomain trustDomain, ReadOnlySpan<byte> content, out IReadOnlyList<string> warnings)
    {
        ThrowIfEmpty(trustDomain);
        if (content.Length > MaxSize)
        {
            throw new FormatException($"bundle is larger than {MaxSize} bytes");
        }

        var text = content.StartsWith("\uFEFF"u8) ? content[3..] : content;
        var start = text.IndexOfAnyExcept(" \t\r\n"u8);
        if (start < 0)
        {
            throw new FormatException("bundle is empty");
        }

        if (text[start] == (byte)'{')
        {
            return Parse(trustDomain, text, out warnings);
        }

        if (text[0] == 0x30)
        {
            warnings = [];
            return new SpiffeBundle(trustDomain, Der.ReadCertificates(text), []);
        }

        var list = new List<string>();
        warnings = list;

        // PEM may follow explanatory text (as `openssl x509 -text` writes it), so search for a block.
        if (text.IndexOf("-----BEGIN "u8) >= 0)
        {
            string pem;
            try
            {
                pem = new UTF8Encoding(false, true).GetString(text);
            }
            catch (DecoderFallbackException ex)
            {
                throw new FormatException("PEM bundle is not valid UTF-8", ex);
            }

            var certificates = new List<System.Security.Cryptography.X509Certificates.X509Certificate2>();
            foreach (var block in Pem.ReadBlocks(pem))
            {
                if (block.Label == "CERTIFICATE")
                {
                    certificates.Add(Der.LoadCertificate(block.Data, $"certificate {certificates.Count + 1}"));
                }
                else
                {
                    // Only the label is reported: the block may be a private key.
                    list.Add($"PEM block {block.Index} ({TrustDomain.Printable(block.Label)}) is not a certificate; ignored");
                }
            }

            if (certificates.Count == 0)
            {
                throw new FormatException("PEM bundle has no CERTIFICATE block");
            }

            return new SpiffeBundle(trustDomain, certificates, []);
        }

        throw new FormatException("bundle is neither a JWK Set, PEM nor DER");
    }

    /// <summary>The bundle as a compact SPIFFE bundle JWK Set; see <see cref="ToUtf8Json"/>.</summary>
    /// <exception cref="InvalidOperationException">An authority's key cannot be expressed as a JWK.</exception>
    public string ToJson() => Encoding.UTF8.GetString(ToUtf8Json());

    /// <summary>
    /// The bundle as a compact SPIFFE bundle JWK Set in UTF-8, as SPIRE accepts it: always <c>keys</c>
    /// (§4.1.3); each X.509 authority as <c>use: x509-svid</c> with <c>kty</c>, <c>crv</c>/<c>x</c>/<c>y</c>
    /// or <c>n</c>/<c>e</c> and exactly one <c>x5c</c> (X509-SVID §6.1); each JWT authority as
    /// <c>use: jwt-svid</c> with its <c>kid</c> (JWT-SVID §6.1); then <c>spiffe_sequence</c> and
    /// <c>spiffe_refresh_hint</c> (whole seconds, rounded up) when set. Equal bundles give equal bytes.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// An authority's key is not EC P-256/P-384/P-521 or RSA of 2048..16384 bits, so no peer could read it.
    /// </exception>
    public byte[] ToUtf8Json() => BundleJsonWriter.Write(this);

    private static void ThrowIfEmpty(TrustDomain trustDomain)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }
    }
}
