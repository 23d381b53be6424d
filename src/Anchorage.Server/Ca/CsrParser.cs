using System.Formats.Asn1;
using System.Security.Cryptography;
using Anchorage.Server.Ca.Internal;

namespace Anchorage.Server.Ca;

/// <summary>
/// Reads PKCS#10 certification requests (RFC 2986 §4) sent by agents and workloads: checks the
/// structure, checks that the key is one the CA signs for (EC P-256/P-384, RSA &gt;= 2048 bits),
/// and verifies the request's self-signature, which proves possession of the private key.
/// The subject and the requested attributes/extensions are ignored: the identity comes from the
/// registration entry, never from the CSR.
/// </summary>
public static class CsrParser
{
    /// <summary>The largest CSR accepted (an RSA-8192 request is about 2.3 KB).</summary>
    public const int MaxLength = 16 * 1024;

    /// <summary>
    /// Parses a DER CSR, verifies its self-signature and returns its SubjectPublicKeyInfo (DER),
    /// which <see cref="X509SvidIssuer"/> copies into the certificate verbatim.
    /// </summary>
    /// <param name="csr">The DER-encoded CertificationRequest.</param>
    /// <exception cref="FormatException">
    /// <c>csr is not valid DER</c>; <c>csr is larger than 16384 bytes</c>; <c>csr version must be 0 (v1)</c>;
    /// <c>csr key type NAME not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)</c>;
    /// <c>csr key is not a valid SubjectPublicKeyInfo</c>; <c>csr signature algorithm OID not supported</c>;
    /// <c>csr signature algorithm does not fit the csr key</c>; <c>csr signature does not verify</c>.
    /// </exception>
    public static byte[] VerifyAndGetPublicKey(ReadOnlySpan<byte> csr) => VerifyAndGetPublicKey(csr, out _);

    internal static byte[] VerifyAndGetPublicKey(ReadOnlySpan<byte> csr, out SubjectKeyKind kind)
    {
        if (csr.Length > MaxLength)
        {
            throw new FormatException($"csr is larger than {MaxLength} bytes");
        }

        ReadOnlySpan<byte> info;
        ReadOnlySpan<byte> spki;
        string signatureOid;
        byte[] signature;
        try
        {
            AsnDecoder.ReadSequence(csr, AsnEncodingRules.DER, out var offset, out var length, out var consumed);
            if (consumed != csr.Length)
            {
                throw new AsnContentException("trailing data");
            }

            var request = csr.Slice(offset, length);

            // certificationRequestInfo, kept as encoded: the signature covers these exact bytes.
            AsnDecoder.ReadEncodedValue(request, AsnEncodingRules.DER, out var infoOffset, out var infoLength, out var infoConsumed);
            info = request[..infoConsumed];
            var infoContent = request.Slice(infoOffset, infoLength);

            AsnDecoder.ReadSequence(request[infoConsumed..], AsnEncodingRules.DER, out var algOffset, out var algLength, out var algConsumed);
            var alg = request.Slice(infoConsumed + algOffset, algLength);
            signatureOid = AsnDecoder.ReadObjectIdentifier(alg, AsnEncodingRules.DER, out var oidConsumed);
            CheckSignatureParameters(signatureOid, alg[oidConsumed..]);

            var rest = request[(infoConsumed + algConsumed)..];
            signature = AsnDecoder.ReadBitString(rest, AsnEncodingRules.DER, out var unused, out var bitsConsumed);
            if (unused != 0 || bitsConsumed != rest.Length)
            {
                throw new AsnContentException("bad signature bit string");
            }

            if (!AsnDecoder.TryReadInt32(infoContent, AsnEncodingRules.DER, out var version, out var versionConsumed))
            {
                throw new AsnContentException("bad version");
            }

            if (version != 0)
            {
                throw new FormatException("csr version must be 0 (v1)");
            }

            var afterVersion = infoContent[versionConsumed..];
            AsnDecoder.ReadEncodedValue(afterVersion, AsnEncodingRules.DER, out _, out _, out var subjectConsumed); // subject: ignored
            var afterSubject = afterVersion[subjectConsumed..];
            AsnDecoder.ReadEncodedValue(afterSubject, AsnEncodingRules.DER, out _, out _, out var spkiConsumed);
            spki = afterSubject[..spkiConsumed];

            // attributes [0] IMPLICIT SET OF Attribute: required by RFC 2986, contents ignored.
            var attributes = afterSubject[spkiConsumed..];
            var tag = Asn1Tag.Decode(attributes, out _);
            AsnDecoder.ReadEncodedValue(attributes, AsnEncodingRules.DER, out _, out _, out var attributesConsumed);
            if (!tag.HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)) || attributesConsumed != attributes.Length)
            {
                throw new AsnContentException("bad attributes");
            }
        }
        catch (AsnContentException ex)
        {
            throw new FormatException("csr is not valid DER", ex);
        }

        kind = SubjectKeys.Inspect(spki, "csr key");
        Verify(kind, spki, info, signatureOid, signature);
        return spki.ToArray();
    }

    private static void CheckSignatureParameters(string oid, ReadOnlySpan<byte> parameters)
    {
        // RSA PKCS#1 v1.5 identifiers carry NULL parameters (RFC 4055 §5; absent tolerated as some
        // producers omit them); ECDSA identifiers carry none (RFC 5758 §3.2).
        if (oid is CaSigner.RsaSha256Oid or CaSigner.RsaSha384Oid or CaSigner.RsaSha512Oid && !parameters.IsEmpty)
        {
            AsnDecoder.ReadNull(parameters, AsnEncodingRules.DER, out var consumed);
            if (consumed != parameters.Length)
            {
                throw new AsnContentException("bad signature parameters");
            }
        }
        else if (oid is CaSigner.EcdsaSha256Oid or CaSigner.EcdsaSha384Oid or CaSigner.EcdsaSha512Oid && !parameters.IsEmpty)
        {
            throw new AsnContentException("bad signature parameters");
        }
    }

    private static void Verify(SubjectKeyKind kind, ReadOnlySpan<byte> spki, ReadOnlySpan<byte> info, string signatureOid, byte[] signature)
    {
        var (isEcdsa, hash) = signatureOid switch
        {
            CaSigner.EcdsaSha256Oid => (true, HashAlgorithmName.SHA256),
            CaSigner.EcdsaSha384Oid => (true, HashAlgorithmName.SHA384),
            CaSigner.EcdsaSha512Oid => (true, HashAlgorithmName.SHA512),
            CaSigner.RsaSha256Oid => (false, HashAlgorithmName.SHA256),
            CaSigner.RsaSha384Oid => (false, HashAlgorithmName.SHA384),
            CaSigner.RsaSha512Oid => (false, HashAlgorithmName.SHA512),
            _ => throw new FormatException($"csr signature algorithm {signatureOid} not supported"),
        };
        if (isEcdsa != (kind != SubjectKeyKind.Rsa))
        {
            throw new FormatException("csr signature algorithm does not fit the csr key");
        }

        if (isEcdsa)
        {
            Span<byte> digest = stackalloc byte[64];
            var digestLength = hash == HashAlgorithmName.SHA256 ? SHA256.HashData(info, digest)
                : hash == HashAlgorithmName.SHA384 ? SHA384.HashData(info, digest)
                : SHA512.HashData(info, digest);
            switch (NativeEcdsa.Verify(kind, SubjectKeys.PublicKeyBits(spki), digest[..digestLength], signature))
            {
                case NativeVerifyResult.Valid:
                    return;
                case NativeVerifyResult.Invalid:
                    throw new FormatException("csr signature does not verify");
                case NativeVerifyResult.BadKey:
                    throw new FormatException("csr key is not a valid SubjectPublicKeyInfo");
                default:
                    break; // libcrypto 3 not available: verify with .NET below
            }
        }

        using AsymmetricAlgorithm key = isEcdsa ? ECDsa.Create() : RSA.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(spki, out _);
        }
        catch (CryptographicException ex)
        {
            // The structure passed; OpenSSL rejected the key itself (e.g. an EC point not on the curve).
            throw new FormatException("csr key is not a valid SubjectPublicKeyInfo", ex);
        }

        bool valid;
        try
        {
            valid = key is ECDsa ecdsa
                ? ecdsa.VerifyData(info, signature, hash, DSASignatureFormat.Rfc3279DerSequence)
                : ((RSA)key).VerifyData(info, signature, hash, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            valid = false;
        }

        if (!valid)
        {
            throw new FormatException("csr signature does not verify");
        }
    }
}
