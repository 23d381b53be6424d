using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;

namespace Anchorage.Server.Tests.Ca;

public class CsrParserTests
{
    private static byte[] OpenSslCsr(OpenSsl openssl, string algorithm, params string[] extra)
    {
        if (algorithm == "RSA")
        {
            openssl.Run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.pem");
        }
        else if (algorithm is "ed25519")
        {
            openssl.Run("genpkey", "-algorithm", "ed25519", "-out", "k.pem");
        }
        else
        {
            openssl.Run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + algorithm, "-out", "k.pem");
        }

        openssl.Run(["req", "-new", "-key", "k.pem", "-subj", "/CN=ignored/O=Evil", "-outform", "DER", "-out", "r.der", .. extra]);
        openssl.Run("pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der");
        return openssl.ReadBytes("r.der");
    }

    [Theory]
    [InlineData("P-256")]
    [InlineData("P-384")]
    [InlineData("RSA")]
    public void VerifyAndGetPublicKey_OpenSslRequest_ReturnsItsPublicKey(string algorithm)
    {
        using var openssl = new OpenSsl();
        var csr = OpenSslCsr(openssl, algorithm);

        Assert.Equal(openssl.ReadBytes("pub.der"), CsrParser.VerifyAndGetPublicKey(csr));
    }

    [Fact]
    public void IssueFromCsr_OpenSslRequestWithSanAndSubject_IdentityComesFromCallerOnly()
    {
        using var openssl = new OpenSsl();
        var csr = OpenSslCsr(openssl, "P-256", "-addext", "subjectAltName=URI:spiffe://evil.org/x,DNS:evil.org", "-addext", "basicConstraints=critical,CA:TRUE");
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);

        using var leaf = X509CertificateLoader.LoadCertificate(new X509SvidIssuer(ca, clock).IssueFromCsr(CaFixture.Workload, csr, ["web.example.org"]));

        Assert.Equal(CaFixture.Workload, new X509SvidVerifier(clock).Verify([leaf], new X509Bundle(CaFixture.Td, [ca.Certificate])).Id);
        Assert.Equal("CN=web.example.org, O=Anchorage", leaf.Subject); // .NET prints the RDNs last first
        Assert.False(leaf.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(["web.example.org"], leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames());
    }

    [Fact]
    public void VerifyAndGetPublicKey_TamperedRequest_SignatureDoesNotVerify()
    {
        using var openssl = new OpenSsl();
        var csr = OpenSslCsr(openssl, "P-256");
        var tampered = (byte[])csr.Clone();
        var at = tampered.AsSpan().IndexOf("ignored"u8);
        tampered[at] = (byte)'J';

        var ex = Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(tampered));

        Assert.Equal("csr signature does not verify", ex.Message);
        Assert.NotEmpty(CsrParser.VerifyAndGetPublicKey(csr)); // positive control: the untampered request
    }

    [Fact]
    public void VerifyAndGetPublicKey_SignatureFromAnotherKey_SignatureDoesNotVerify()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256);
        var good = request.CreateSigningRequest();
        var forged = request.CreateSigningRequest(X509SignatureGenerator.CreateForECDsa(other));

        Assert.Equal("csr signature does not verify", Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(forged)).Message);
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), CsrParser.VerifyAndGetPublicKey(good));
    }

    public static TheoryData<string, byte[], string> Malformed()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var good = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        return new TheoryData<string, byte[], string>
        {
            { "empty", [], "csr is not valid DER" },
            { "garbage", "not a csr"u8.ToArray(), "csr is not valid DER" },
            { "truncated", good[..^3], "csr is not valid DER" },
            { "trailing", [.. good, 0x00], "csr is not valid DER" },
            { "pem", System.Text.Encoding.ASCII.GetBytes(PemEncoding.WriteString("CERTIFICATE REQUEST", good)), "csr is not valid DER" },
            { "huge", new byte[CsrParser.MaxLength + 1], "csr is larger than 16384 bytes" },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void VerifyAndGetPublicKey_Malformed_ThrowsFormatException(string name, byte[] csr, string message)
    {
        _ = name;
        Assert.Equal(message, Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(csr)).Message);
    }

    [Theory]
    [InlineData("P-521", "csr key type ec-p521 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)")]
    [InlineData("ed25519", "csr key type ed25519 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)")]
    public void VerifyAndGetPublicKey_UnsupportedKey_ThrowsFormatException(string algorithm, string message)
    {
        using var openssl = new OpenSsl();
        var csr = OpenSslCsr(openssl, algorithm);

        Assert.Equal(message, Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(csr)).Message);
    }

    [Fact]
    public void VerifyAndGetPublicKey_Rsa1024_ThrowsFormatException()
    {
        using var key = RSA.Create(1024);
        var csr = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();

        Assert.Equal(
            "csr key type rsa-1024 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)",
            Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(csr)).Message);
    }

    [Fact]
    public void VerifyAndGetPublicKey_RsaPss_SignatureAlgorithmNotSupported()
    {
        using var key = RSA.Create(2048);
        var pss = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pss).CreateSigningRequest();
        var pkcs1 = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();

        Assert.Equal("csr signature algorithm 1.2.840.113549.1.1.10 not supported", Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(pss)).Message);
        Assert.NotEmpty(CsrParser.VerifyAndGetPublicKey(pkcs1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VerifyAndGetPublicKey_NativeAndManagedPaths_AgreeOnValidTamperedAndOffCurve(bool managed)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var good = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA384).CreateSigningRequest();
        var tampered = (byte[])good.Clone();
        tampered[tampered.AsSpan().IndexOf("x"u8)] = (byte)'y';
        var offCurve = (byte[])good.Clone();
        var point = offCurve.AsSpan().IndexOf(key.ExportSubjectPublicKeyInfo().AsSpan()[^97..]);
        offCurve[point + 96] ^= 0x01; // last byte of Y: the point leaves the curve
        Anchorage.Server.Ca.Internal.NativeEcdsa.ForceManaged = managed;
        try
        {
            Assert.Equal(key.ExportSubjectPublicKeyInfo(), CsrParser.VerifyAndGetPublicKey(good));
            Assert.Equal("csr signature does not verify", Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(tampered)).Message);
            Assert.Equal("csr key is not a valid SubjectPublicKeyInfo", Assert.Throws<FormatException>(() => CsrParser.VerifyAndGetPublicKey(offCurve)).Message);
        }
        finally
        {
            Anchorage.Server.Ca.Internal.NativeEcdsa.ForceManaged = false;
        }
    }
}
