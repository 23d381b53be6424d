using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;

namespace Anchorage.Server.Tests.Ca;

/// <summary>
/// Keys whose verification costs far more than a normal one are refused by the structural check,
/// before the signature is verified: an RSA public exponent past 2^32, a modulus past 8192 bits.
/// The requests carry a junk signature, so reaching the verification shows as "does not verify".
/// </summary>
public class CsrParserCostTests
{
    private const string Rest = "not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)";

    private static byte[] RsaCsr(BigInteger modulus, BigInteger exponent)
    {
        var key = new AsnWriter(AsnEncodingRules.DER);
        using (key.PushSequence())
        {
            key.WriteInteger(modulus);
            key.WriteInteger(exponent);
        }

        var spki = new AsnWriter(AsnEncodingRules.DER);
        using (spki.PushSequence())
        {
            using (spki.PushSequence())
            {
                spki.WriteObjectIdentifier("1.2.840.113549.1.1.1");
                spki.WriteNull();
            }

            spki.WriteBitString(key.Encode());
        }

        var csr = new AsnWriter(AsnEncodingRules.DER);
        using (csr.PushSequence())
        {
            using (csr.PushSequence())
            {
                csr.WriteInteger(0);
                using (csr.PushSequence())
                {
                }

                csr.WriteEncodedValue(spki.Encode());
                using (csr.PushSetOf(new Asn1Tag(TagClass.ContextSpecific, 0)))
                {
                }
            }

            using (csr.PushSequence())
            {
                csr.WriteObjectIdentifier("1.2.840.113549.1.1.11");
                csr.WriteNull();
            }

            csr.WriteBitString(new byte[256]);
        }

        return csr.Encode();
    }

    private static BigInteger Modulus(int bits) => (BigInteger.One << (bits - 1)) + 1;

    [Fact]
    public void VerifyAndGetPublicKey_RsaExponentOf3070Bits_RefusedBeforeVerifying()
    {
        var huge = (BigInteger.One << 3069) + 1;

        var refused = Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(RsaCsr(Modulus(2048), huge)));
        var control = Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(RsaCsr(Modulus(2048), 65537)));

        Assert.Equal("csr key type rsa with a 3070-bit public exponent " + Rest, refused.Message);
        Assert.Equal("csr signature does not verify", control.Message);
    }

    [Theory]
    [InlineData(33, 4294967297L, "csr key type rsa with a 33-bit public exponent " + Rest)] // 2^32 + 1
    [InlineData(32, 4294967295L, "csr signature does not verify")] // 2^32 - 1: allowed, reaches the verification
    [InlineData(3, 3L, "csr signature does not verify")]
    public void VerifyAndGetPublicKey_RsaExponentAroundTheLimit_RefusedOnlyPast2To32(int bits, long exponent, string message)
    {
        _ = bits;
        Assert.Equal(message, Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(RsaCsr(Modulus(2048), exponent))).Message);
    }

    [Fact]
    public void VerifyAndGetPublicKey_RsaModulusPast8192Bits_Refused()
    {
        var refused = Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(RsaCsr(Modulus(8200), 65537)));
        var control = Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(RsaCsr(Modulus(8192), 65537)));

        Assert.Equal("csr key type rsa-8200 " + Rest, refused.Message);
        Assert.Equal("csr signature does not verify", control.Message);
    }

    [Fact]
    public void VerifyAndGetPublicKey_RealRsa4096Csr_Accepted()
    {
        using var key = RSA.Create(4096);
        var csr = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();

        Assert.Equal(key.ExportSubjectPublicKeyInfo(), CsrParser.VerifyAndGetPublicKey(csr));
    }
}
