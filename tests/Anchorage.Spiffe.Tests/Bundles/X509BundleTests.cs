using System.Security.Cryptography;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;

namespace Anchorage.Spiffe.Tests.Bundles;

public class X509BundleTests
{
    private const string Domain = "example.org";
    private static readonly TrustDomain Td = TrustDomain.Parse(Domain);
    private static readonly TrustDomain Other = TrustDomain.Parse("other.org");

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 3")]
    public void Ctor_RepeatedCertificate_KeptOnceInOrder()
    {
        var a = TestAuthorities.Ca(Domain, TestKeyKind.P256);
        var b = TestAuthorities.Ca(Domain, TestKeyKind.Rsa2048);

        var bundle = new X509Bundle(Td, [a, b, a]);

        Assert.Equal([a.RawData, b.RawData], bundle.Authorities.Select(c => c.RawData));
        Assert.True(bundle.Contains(a));
        Assert.False(bundle.Contains(TestAuthorities.Ca(Domain, TestKeyKind.P384)));
    }

    [Fact]
    public void Ctor_EmptyTrustDomain_ThrowsArgumentException()
    {
        var ex = Assert.Throws<ArgumentException>(() => new X509Bundle(default, []));

        Assert.Equal("trust domain is empty (Parameter 'trustDomain')", ex.Message);
        Assert.Empty(new X509Bundle(Td, []).Authorities);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 3")]
    public void TryGetX509Bundle_OnlyForItsOwnTrustDomain()
    {
        var bundle = new X509Bundle(Td, [TestAuthorities.Ca(Domain)]);

        Assert.True(bundle.TryGetX509Bundle(Td, out var same));
        Assert.Same(bundle, same);
        Assert.False(bundle.TryGetX509Bundle(Other, out var none));
        Assert.Null(none);
        Assert.False(bundle.TryGetX509Bundle(default, out _));
    }

    [Fact]
    public void ToPem_FromPem_RoundTrips()
    {
        var bundle = new X509Bundle(Td, [TestAuthorities.Ca(Domain), TestAuthorities.Ca(Domain, TestKeyKind.Rsa2048)]);

        var again = X509Bundle.FromPem(Td, bundle.ToPem());

        Assert.Equal(bundle.Authorities.Select(c => c.RawData), again.Authorities.Select(c => c.RawData));
        Assert.Equal(2, bundle.ToPem().Split("-----BEGIN CERTIFICATE-----").Length - 1);
    }

    [Fact]
    public void ToDer_FromDer_RoundTrips()
    {
        var bundle = new X509Bundle(Td, [TestAuthorities.Ca(Domain), TestAuthorities.Ca(Domain, TestKeyKind.P521)]);

        var again = X509Bundle.FromDer(Td, bundle.ToDer());

        Assert.Equal(bundle.Authorities.Select(c => c.RawData), again.Authorities.Select(c => c.RawData));
        Assert.Empty(new X509Bundle(Td, []).ToDer());
        Assert.Empty(X509Bundle.FromDer(Td, []).Authorities);
    }

    [Fact]
    public void FromPem_OpenSslCertificate_Parses()
    {
        var ca = OpenSslAuthority.Create(Domain, null);

        var bundle = X509Bundle.FromPem(Td, PemEncoding.WriteString("CERTIFICATE", ca.CertificateDer));

        Assert.Equal(ca.CertificateDer, Assert.Single(bundle.Authorities).RawData);
    }

    public static TheoryData<string, string> MalformedPem => new()
    {
        { "-----BEGIN CERTIFICATE-----\nAAAA", "PEM data is malformed (no complete BEGIN/END block)" },
        { "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1 is not a valid X.509 certificate" },
    };

    [Theory]
    [MemberData(nameof(MalformedPem))]
    public void FromPem_Malformed_ThrowsFormatException(string pem, string message)
    {
        var ex = Assert.Throws<FormatException>(() => X509Bundle.FromPem(Td, pem));

        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void FromPem_SecondBlockBroken_NamesIt()
    {
        var good = TestAuthorities.Ca(Domain).ExportCertificatePem();

        var ex = Assert.Throws<FormatException>(() => X509Bundle.FromPem(Td, good + "\n-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"));

        Assert.Equal("certificate 2 is not a valid X.509 certificate", ex.Message);
        Assert.Single(X509Bundle.FromPem(Td, good).Authorities);
    }

    [Fact]
    public void FromDer_Malformed_ThrowsFormatException()
    {
        var der = TestAuthorities.Ca(Domain).RawData;

        var notSequence = Assert.Throws<FormatException>(() => X509Bundle.FromDer(Td, [.. der, 0x04, 0x00]));
        var truncated = Assert.Throws<FormatException>(() => X509Bundle.FromDer(Td, der.AsSpan(0, der.Length - 1)));

        Assert.Equal("certificate 2 is not a DER SEQUENCE", notSequence.Message);
        Assert.StartsWith("certificate 1 is not valid DER", truncated.Message, StringComparison.Ordinal);
        Assert.Single(X509Bundle.FromDer(Td, der).Authorities);
    }

    [Fact]
    public void With_AddsWithoutDuplicatesAndKeepsOriginal()
    {
        var a = TestAuthorities.Ca(Domain);
        var b = TestAuthorities.Ca(Domain, TestKeyKind.P384);
        var bundle = new X509Bundle(Td, [a]);

        var more = bundle.With(b, a);

        Assert.Single(bundle.Authorities);
        Assert.Equal([a.RawData, b.RawData], more.Authorities.Select(c => c.RawData));
        Assert.Equal(Td, more.TrustDomain);
    }

    [Fact]
    public void FromPem_SkipsOtherBlocks()
    {
        using var key = ECDsa.Create();
        var pem = key.ExportPkcs8PrivateKeyPem() + "\n" + TestAuthorities.Ca(Domain).ExportCertificatePem();

        Assert.Single(X509Bundle.FromPem(Td, pem).Authorities);
        Assert.Empty(X509Bundle.FromPem(Td, Encoding.ASCII.GetString(Encoding.ASCII.GetBytes("no pem here"))).Authorities);
    }
}
