using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// Signs certificate bodies with a CA key: ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for
/// P-384 (RFC 5758 §3.2, the hash matched to the curve), sha256WithRSAEncryption for RSA
/// (RFC 4055 §5). The AlgorithmIdentifier is encoded once.
/// </summary>
internal sealed class CaSigner
{
    public const string EcdsaSha256Oid = "1.2.840.10045.4.3.2";
    public const string EcdsaSha384Oid = "1.2.840.10045.4.3.3";
    public const string EcdsaSha512Oid = "1.2.840.10045.4.3.4";
    public const string RsaSha256Oid = "1.2.840.113549.1.1.11";
    public const string RsaSha384Oid = "1.2.840.113549.1.1.12";
    public const string RsaSha512Oid = "1.2.840.113549.1.1.13";

    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;

    private CaSigner(ECDsa? ecdsa, RSA? rsa, HashAlgorithmName hash, byte[] algorithmIdentifier, SubjectKeyKind kind)
    {
        _ecdsa = ecdsa;
        _rsa = rsa;
        Hash = hash;
        AlgorithmIdentifier = algorithmIdentifier;
        KeyKind = kind;
    }

    public HashAlgorithmName Hash { get; }

    /// <summary>The DER AlgorithmIdentifier, written in the body and after it.</summary>
    public byte[] AlgorithmIdentifier { get; }

    public SubjectKeyKind KeyKind { get; }

    /// <summary>Builds a signer for <paramref name="key"/>, which must be EC P-256/P-384 or RSA of at least 2048 bits.</summary>
    /// <exception cref="ArgumentException">Another key type.</exception>
    public static CaSigner For(AsymmetricAlgorithm key, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(key, parameterName);
        SubjectKeyKind kind;
        try
        {
            kind = SubjectKeys.Inspect(key.ExportSubjectPublicKeyInfo(), "ca key");
        }
        catch (FormatException ex)
        {
            throw new ArgumentException(ex.Message, parameterName, ex);
        }

        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            switch (kind)
            {
                case SubjectKeyKind.EcP256:
                    writer.WriteObjectIdentifier(EcdsaSha256Oid);
                    break;
                case SubjectKeyKind.EcP384:
                    writer.WriteObjectIdentifier(EcdsaSha384Oid);
                    break;
                default:
                    writer.WriteObjectIdentifier(RsaSha256Oid);
                    writer.WriteNull();
                    break;
            }
        }

        var algorithmIdentifier = writer.Encode();
        return kind switch
        {
            SubjectKeyKind.EcP256 => new CaSigner((ECDsa)key, null, HashAlgorithmName.SHA256, algorithmIdentifier, kind),
            SubjectKeyKind.EcP384 => new CaSigner((ECDsa)key, null, HashAlgorithmName.SHA384, algorithmIdentifier, kind),
            _ => new CaSigner(null, (RSA)key, HashAlgorithmName.SHA256, algorithmIdentifier, kind),
        };
    }

    /// <summary>Signs <paramref name="data"/>; ECDSA signatures are DER Ecdsa-Sig-Value (RFC 3279 §2.2.3).</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) => _ecdsa is not null
        ? _ecdsa.SignData(data, Hash, DSASignatureFormat.Rfc3279DerSequence)
        : _rsa!.SignData(data, Hash, RSASignaturePadding.Pkcs1);

    /// <summary>Writes Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1).</summary>
    public byte[] SignCertificate(ReadOnlySpan<byte> tbsCertificate)
    {
        var signature = Sign(tbsCertificate);
        var writer = new AsnWriter(AsnEncodingRules.DER, tbsCertificate.Length + AlgorithmIdentifier.Length + signature.Length + 16);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(tbsCertificate);
            writer.WriteEncodedValue(AlgorithmIdentifier);
            writer.WriteBitString(signature);
        }

        return writer.Encode();
    }
}
