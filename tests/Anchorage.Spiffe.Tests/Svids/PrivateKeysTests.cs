using System.Security.Cryptography;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Tests.Svids;

public sealed class PrivateKeysTests
{
    [Fact]
    public void ParsePem_EcAndRsaInEveryEncoding_ReturnsTheKeyOfItsAlgorithm()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);

        using var ecPkcs8 = PrivateKeys.ParsePem(ec.ExportPkcs8PrivateKeyPem());
        using var ecSec1 = PrivateKeys.ParsePem(ec.ExportECPrivateKeyPem());
        using var rsaPkcs8 = PrivateKeys.ParsePem(rsa.ExportPkcs8PrivateKeyPem());
        using var rsaPkcs1 = PrivateKeys.ParsePem(rsa.ExportRSAPrivateKeyPem());

        var q = ec.ExportParameters(false).Q.X;
        Assert.Equal(q, Assert.IsAssignableFrom<ECDsa>(ecPkcs8).ExportParameters(false).Q.X);
        Assert.Equal(q, Assert.IsAssignableFrom<ECDsa>(ecSec1).ExportParameters(false).Q.X);
        var n = rsa.ExportParameters(false).Modulus;
        Assert.Equal(n, Assert.IsAssignableFrom<RSA>(rsaPkcs8).ExportParameters(false).Modulus);
        Assert.Equal(n, Assert.IsAssignableFrom<RSA>(rsaPkcs1).ExportParameters(false).Modulus);
    }

    [Fact]
    public void ParsePem_KeyAfterACertificate_ReturnsTheKey()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = SelfSigned(ec);

        using var key = PrivateKeys.ParsePem(certificate.ExportCertificatePem() + "\n" + ec.ExportPkcs8PrivateKeyPem());

        Assert.Equal(ec.ExportParameters(false).Q.X, Assert.IsAssignableFrom<ECDsa>(key).ExportParameters(false).Q.X);
    }

    public static TheoryData<string, string> NotOneKey()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = SelfSigned(ec);
        var key = ec.ExportPkcs8PrivateKeyPem();
        return new()
        {
            { certificate.ExportCertificatePem(), "no private key found" },

            // ImportFromPem would have taken a public key for a key pair.
            { ec.ExportSubjectPublicKeyInfoPem(), "no private key found" },
            { string.Empty, "no private key found" },
            { key + "\n" + key, "more than one private key found" },
            {
                ec.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1)),
                "private key is encrypted; an unencrypted PKCS#8 key is required"
            },
            { "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n", "private key is not a valid PKCS#8 key" },
            { "-----BEGIN PRIVATE KEY-----\nMAA", "PEM data is malformed (no complete BEGIN/END block)" },
        };
    }

    [Theory]
    [MemberData(nameof(NotOneKey))]
    public void ParsePem_NotExactlyOneUsableKey_ThrowsSayingWhy(string pem, string expected)
    {
        var e = Assert.Throws<FormatException>(() => PrivateKeys.ParsePem(pem));

        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void ParsePkcs8_EcAndRsa_ReturnsTheKeyOfItsAlgorithm()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);

        using var ecKey = PrivateKeys.ParsePkcs8(ec.ExportPkcs8PrivateKey());
        using var rsaKey = PrivateKeys.ParsePkcs8(rsa.ExportPkcs8PrivateKey());

        Assert.Equal(ec.ExportParameters(false).Q.X, Assert.IsAssignableFrom<ECDsa>(ecKey).ExportParameters(false).Q.X);
        Assert.Equal(rsa.ExportParameters(false).Modulus, Assert.IsAssignableFrom<RSA>(rsaKey).ExportParameters(false).Modulus);
    }

    [Fact]
    public void ParsePkcs8_Sec1OrGarbage_ThrowsSayingWhy()
    {
        // The server's CA key files are PKCS#8 only: SEC 1 DER, though a valid key, is refused here.
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var sec1 = Assert.Throws<FormatException>(() => PrivateKeys.ParsePkcs8(ec.ExportECPrivateKey()));
        var garbage = Assert.Throws<FormatException>(() => PrivateKeys.ParsePkcs8([1, 2, 3]));

        Assert.Equal("private key is not a valid PKCS#8 key", sec1.Message);
        Assert.Equal("private key is not a valid PKCS#8 key", garbage.Message);
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 SelfSigned(ECDsa key) =>
        new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=not a key", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));
}
