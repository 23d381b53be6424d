using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca.Internal;

namespace Anchorage.Server.Tests.Ca;

public sealed class PemKeysTests
{
    [Fact]
    public void ReadPrivateKey_EcAndRsaPkcs8_ReturnsTheKeyOfItsAlgorithm()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);

        using var readEc = PemKeys.ReadPrivateKey(ec.ExportPkcs8PrivateKeyPem(), "key file");
        using var readRsa = PemKeys.ReadPrivateKey(rsa.ExportRSAPrivateKeyPem(), "key file");

        Assert.Equal(ec.ExportParameters(false).Q.X, Assert.IsAssignableFrom<ECDsa>(readEc).ExportParameters(false).Q.X);
        Assert.Equal(rsa.ExportParameters(false).Modulus, Assert.IsAssignableFrom<RSA>(readRsa).ExportParameters(false).Modulus);
    }

    [Fact]
    public void ReadPrivateKey_CertificateInsteadOfKey_NamesTheFile()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = new CertificateRequest("CN=not a key", ec, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1));

        var e = Assert.Throws<FormatException>(() => PemKeys.ReadPrivateKey(certificate.ExportCertificatePem(), "serving key file /etc/k.pem"));

        Assert.Equal("serving key file /etc/k.pem holds no EC or RSA private key", e.Message);
    }
}
