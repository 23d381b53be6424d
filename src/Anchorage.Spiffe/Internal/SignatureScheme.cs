using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// A certificate signature algorithm this library verifies: ECDSA with SHA-256/384/512
/// (<see cref="Padding"/> null), RSA PKCS#1 v1.5 or RSASSA-PSS with SHA-256/384/512.
/// </summary>
internal sealed record SignatureScheme(HashAlgorithmName Hash, RSASignaturePadding? Padding)
{
    private static readonly SignatureScheme EcdsaSha256 = new(HashAlgorithmName.SHA256, null);
    private static readonly SignatureScheme EcdsaSha384 = new(HashAlgorithmName.SHA384, null);
    private static readonly SignatureScheme EcdsaSha512 = new(HashAlgorithmName.SHA512, null);
    private static readonly SignatureScheme RsaSha256 = new(HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    private static readonly SignatureScheme RsaSha384 = new(HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1);
    private static readonly SignatureScheme RsaSha512 = new(HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1);

    private const string RsaPssOid = "1.2.840.113549.1.1.10";
    private const string Mgf1Oid = "1.2.840.113549.1.1.8";

    /// <summary>The scheme for an AlgorithmIdentifier, or null when it is not supported (SHA-1, DSA, Ed25519, ...).</summary>
    internal static SignatureScheme? FromAlgorithm(string oid, ReadOnlyMemory<byte>? parameters) => oid switch
    {
        "1.2.840.10045.4.3.2" => EcdsaSha256,
        "1.2.840.10045.4.3.3" => EcdsaSha384,
        "1.2.840.10045.4.3.4" => EcdsaSha512,
        "1.2.840.113549.1.1.11" => RsaSha256,
        "1.2.840.113549.1.1.12" => RsaSha384,
        "1.2.840.113549.1.1.13" => RsaSha512,
        RsaPssOid when parameters is { } p => FromPssParameters(p),
        _ => null,
    };

    /// <summary>
    /// RFC 4055 §3.1 parameters. .NET verifies PSS with MGF1 over the same hash and a salt as
    /// long as the hash, which is what CAs emit; other combinations are reported unsupported.
    /// </summary>
    private static SignatureScheme? FromPssParameters(ReadOnlyMemory<byte> parameters)
    {
        try
        {
            var reader = new AsnReader(parameters, AsnEncodingRules.DER).ReadSequence();
            string? hashOid = null;
            string? mgfHashOid = null;
            var saltLength = 20;
            var trailer = 1;
            var tag0 = new Asn1Tag(TagClass.ContextSpecific, 0, true);
            var tag1 = new Asn1Tag(TagClass.ContextSpecific, 1, true);
            var tag2 = new Asn1Tag(TagClass.ContextSpecific, 2, true);
            var tag3 = new Asn1Tag(TagClass.ContextSpecific, 3, true);
            if (reader.HasData && reader.PeekTag().HasSameClassAndValue(tag0))
            {
                hashOid = reader.ReadSequence(tag0).ReadSequence().ReadObjectIdentifier();
            }

            if (reader.HasData && reader.PeekTag().HasSameClassAndValue(tag1))
            {
                var mgf = reader.ReadSequence(tag1).ReadSequence();
                if (mgf.ReadObjectIdentifier() != Mgf1Oid)
                {
                    return null;
                }

                mgfHashOid = mgf.ReadSequence().ReadObjectIdentifier();
            }

            if (reader.HasData && reader.PeekTag().HasSameClassAndValue(tag2) && !reader.ReadSequence(tag2).TryReadInt32(out saltLength))
            {
                return null;
            }

            if (reader.HasData && reader.PeekTag().HasSameClassAndValue(tag3) && !reader.ReadSequence(tag3).TryReadInt32(out trailer))
            {
                return null;
            }

            reader.ThrowIfNotEmpty();
            (HashAlgorithmName Hash, int Length)? hash = hashOid switch
            {
                "2.16.840.1.101.3.4.2.1" => (HashAlgorithmName.SHA256, 32),
                "2.16.840.1.101.3.4.2.2" => (HashAlgorithmName.SHA384, 48),
                "2.16.840.1.101.3.4.2.3" => (HashAlgorithmName.SHA512, 64),
                _ => null,
            };
            if (hash is not { } h || mgfHashOid != hashOid || saltLength != h.Length || trailer != 1)
            {
                return null;
            }

            return new SignatureScheme(h.Hash, RSASignaturePadding.Pss);
        }
        catch (AsnContentException)
        {
            return null;
        }
    }
}
