using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Server.Tests.Ca;

public class X509AuthorityFactoryTests
{
    [Theory]
    [InlineData(KeyType.EcP256, "ecdsa-with-SHA256")]
    [InlineData(KeyType.EcP384, "ecdsa-with-SHA384")]
    [InlineData(KeyType.Rsa2048, "sha256WithRSAEncryption")]
    [Trait("Spec", "X509-SVID 4.1")]
    public void CreateSelfSigned_OpenSslReadsIt_CaTrueKeyCertSignTrustDomainUri(KeyType keyType, string algorithm)
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock, keyType);
        using var openssl = new OpenSsl();
        openssl.WriteFile("ca.pem", CaFixture.Pem(ca.Certificate.RawData));

        var text = openssl.Run("x509", "-in", "ca.pem", "-noout", "-text").StandardOutput;
        var verify = openssl.Run("verify", "-attime", CaFixture.Epoch(clock.GetUtcNow()), "-CAfile", "ca.pem", "ca.pem").StandardOutput;

        Assert.Contains("ca.pem: OK", verify);
        Assert.Contains("Signature Algorithm: " + algorithm, text);
        Assert.Contains($"Subject: O = Anchorage, CN = example.org X509 CA {ca.Id[..8]}", text);
        Assert.Contains("X509v3 Basic Constraints: critical\n                CA:TRUE", text);
        Assert.Contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign", text);
        Assert.Contains("URI:spiffe://example.org\n", text);
        Assert.Equal(clock.GetUtcNow() - RotationPlanner.Backdate, ca.NotBefore);
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromHours(24), ca.NotAfter);
        Assert.Equal(ca.Certificate.SubjectName.RawData, ca.Certificate.IssuerName.RawData);
    }

    [Fact]
    public void CreateSelfSigned_TwoAuthorities_HaveDistinctSubjectsAndIds()
    {
        var clock = CaFixture.Clock();
        using var a = CaFixture.SelfSigned(clock);
        using var b = CaFixture.SelfSigned(clock);

        Assert.NotEqual(a.Certificate.Subject, b.Certificate.Subject);
        Assert.NotEqual(a.Id, b.Id);
    }

    [Fact]
    public void CreateSelfSigned_LongTrustDomain_CnLeavesTheTrustDomainOut()
    {
        var clock = CaFixture.Clock();
        var td = TrustDomain.Parse(new string('a', 60) + ".example.org");
        using var ca = new X509AuthorityFactory(td, clock).CreateSelfSigned(KeyTypeNames.Generate(KeyType.EcP256));

        Assert.Equal($"CN=X509 CA {ca.Id[..8]}, O=Anchorage", ca.Certificate.Subject); // .NET prints the RDNs last first
        Assert.Equal(td, ca.TrustDomain);
    }

    [Fact]
    public void CreateSigned_OpenSslUpstreamRoot_ChainVerifiesToUpstreamRootWithOpenSslAndCoreVerifier()
    {
        using var openssl = new OpenSsl();
        var upstreamCa = new OpenSslCa(openssl);
        upstreamCa.CreateRoot("root");
        var clock = CaFixture.Clock();
        using var upstream = UpstreamAuthority.Load(openssl.PathOf("root.pem"), openssl.PathOf("root.key"), openssl.PathOf("root.pem"), clock);

        using var ca = new X509AuthorityFactory(CaFixture.Td, clock).CreateSigned(KeyTypeNames.Generate(KeyType.EcP256), upstream);
        using var leaf = new X509SvidIssuer(ca, clock).IssueCertificate(CaFixture.Workload, CaFixture.Spki());
        openssl.WriteFile("ca.pem", CaFixture.Pem(ca.Certificate.RawData));
        openssl.WriteFile("leaf.pem", CaFixture.Pem(leaf.RawData));

        Assert.Empty(ca.UpstreamChain);
        Assert.Equal(upstream.Roots[0].RawData, Assert.Single(ca.BundleAuthorities).RawData);
        Assert.Contains("ca.pem: OK", openssl.Run("verify", "-attime", CaFixture.Epoch(clock.GetUtcNow()), "-CAfile", "root.pem", "ca.pem").StandardOutput);
        Assert.Contains("leaf.pem: OK", openssl.Run("verify", "-attime", CaFixture.Epoch(clock.GetUtcNow()), "-CAfile", "root.pem", "-untrusted", "ca.pem", "leaf.pem").StandardOutput);
        Assert.Equal(CaFixture.Workload, new X509SvidVerifier(clock).Verify([leaf, .. ca.PresentedChain], new X509Bundle(CaFixture.Td, ca.BundleAuthorities)).Id);
        Assert.Contains("URI:spiffe://example.org\n", openssl.Run("x509", "-in", "ca.pem", "-noout", "-text").StandardOutput);
    }

    [Fact]
    public void CreateSigned_UpstreamIntermediate_ChainKeptForPresentingAndVerifiesToRoot()
    {
        using var openssl = new OpenSsl();
        var upstreamCa = new OpenSslCa(openssl);
        upstreamCa.CreateRoot("root");
        upstreamCa.Issue("mid", "root", OpenSslCa.CaExtensions, algorithm: "P-384");
        var clock = CaFixture.Clock();
        using var upstream = UpstreamAuthority.Load(openssl.PathOf("mid.pem"), openssl.PathOf("mid.key"), openssl.PathOf("root.pem"), clock);

        using var ca = new X509AuthorityFactory(CaFixture.Td, clock).CreateSigned(KeyTypeNames.Generate(KeyType.EcP256), upstream);
        using var leaf = new X509SvidIssuer(ca, clock).IssueCertificate(CaFixture.Workload, CaFixture.Spki());
        openssl.WriteFile("chain.pem", string.Concat(ca.PresentedChain.Select(c => CaFixture.Pem(c.RawData))));
        openssl.WriteFile("leaf.pem", CaFixture.Pem(leaf.RawData));

        Assert.Equal(upstream.Certificate.RawData, Assert.Single(ca.UpstreamChain).RawData);
        Assert.Contains("Signature Algorithm: ecdsa-with-SHA384", openssl.Run("x509", "-in", "chain.pem", "-noout", "-text").StandardOutput);
        Assert.Contains("leaf.pem: OK", openssl.Run("verify", "-attime", CaFixture.Epoch(clock.GetUtcNow()), "-CAfile", "root.pem", "-untrusted", "chain.pem", "leaf.pem").StandardOutput);
        Assert.Equal(CaFixture.Workload, new X509SvidVerifier(clock).Verify([leaf, .. ca.PresentedChain], new X509Bundle(CaFixture.Td, ca.BundleAuthorities)).Id);
        var record = ca.ToRecord("server-1", AuthorityState.Active, clock.GetUtcNow());
        Assert.Equal(upstream.Certificate.RawData, record.UpstreamChainDer);
        var keyCopy = System.Security.Cryptography.ECDsa.Create();
        keyCopy.ImportPkcs8PrivateKey(ca.PrivateKey.ExportPkcs8PrivateKey(), out _);
        using var reloaded = X509Authority.FromRecord(record, keyCopy);
        Assert.Equal(ca.Id, reloaded.Id);
        Assert.Equal(upstream.Certificate.RawData, Assert.Single(reloaded.UpstreamChain).RawData);
    }

    [Fact]
    public void CreateSigned_UpstreamExpiresFirst_CaNotAfterIsTheUpstreamNotAfter()
    {
        using var openssl = new OpenSsl();
        var upstreamCa = new OpenSslCa(openssl);
        upstreamCa.CreateRoot("root", days: 1);
        var clock = CaFixture.Clock();
        using var upstream = UpstreamAuthority.Load(openssl.PathOf("root.pem"), openssl.PathOf("root.key"), openssl.PathOf("root.pem"), clock);

        using var ca = new X509AuthorityFactory(CaFixture.Td, clock).CreateSigned(KeyTypeNames.Generate(KeyType.EcP256), upstream, TimeSpan.FromDays(7));

        Assert.Equal(upstream.NotAfter, ca.NotAfter);
    }

    [Fact]
    public void UpstreamAuthority_BundleOfAnotherRoot_ThrowsArgumentException()
    {
        using var openssl = new OpenSsl();
        var upstreamCa = new OpenSslCa(openssl);
        upstreamCa.CreateRoot("root");
        upstreamCa.CreateRoot("other");
        upstreamCa.Issue("mid", "root", OpenSslCa.CaExtensions);
        var clock = CaFixture.Clock();

        var ex = Assert.Throws<ArgumentException>(() => UpstreamAuthority.Load(openssl.PathOf("mid.pem"), openssl.PathOf("mid.key"), openssl.PathOf("other.pem"), clock));

        Assert.StartsWith("upstream certificate does not chain to the upstream bundle (", ex.Message);
        using var good = UpstreamAuthority.Load(openssl.PathOf("mid.pem"), openssl.PathOf("mid.key"), openssl.PathOf("root.pem"), clock);
    }

    [Fact]
    public void UpstreamAuthority_KeyOfAnotherCertificate_ThrowsArgumentException()
    {
        using var openssl = new OpenSsl();
        var upstreamCa = new OpenSslCa(openssl);
        upstreamCa.CreateRoot("root");
        upstreamCa.CreateRoot("other");

        var ex = Assert.Throws<ArgumentException>(() => UpstreamAuthority.Load(openssl.PathOf("root.pem"), openssl.PathOf("other.key"), openssl.PathOf("root.pem"), CaFixture.Clock()));

        Assert.Equal("upstream key does not match the upstream certificate (Parameter 'privateKey')", ex.Message);
    }

    [Fact]
    public void X509Authority_LeafCertificate_ThrowsArgumentException()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        using var key = KeyTypeNames.Generate(KeyType.EcP256);
        using var leaf = new X509SvidIssuer(ca, clock).IssueCertificate(CaFixture.Workload, key.ExportSubjectPublicKeyInfo());

        var ex = Assert.Throws<ArgumentException>(() => new X509Authority(leaf, key));

        Assert.Equal("ca certificate is not a ca (basic constraints cA is not true) (Parameter 'certificate')", ex.Message);
        Assert.Equal("ca key does not match the ca certificate (Parameter 'privateKey')", Assert.Throws<ArgumentException>(() => new X509Authority(ca.Certificate, key)).Message);
    }

    [Fact]
    public async Task CreateAsync_KeyManager_KeyStoredUnderAuthorityIdAndSkiIsTheId()
    {
        var keys = new MemoryKeyManager();
        var clock = CaFixture.Clock();

        using var ca = await new X509AuthorityFactory(CaFixture.Td, clock).CreateAsync(keys, KeyType.EcP384);
        using var stored = await keys.GetAsync(AuthorityKeyIds.For(ca.ToRecord("s1", AuthorityState.Prepared, clock.GetUtcNow())));

        Assert.NotNull(stored);
        Assert.Equal(ca.PrivateKey.ExportSubjectPublicKeyInfo(), stored.ExportSubjectPublicKeyInfo());
        Assert.Equal(ca.Id, Convert.ToHexStringLower(ca.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes.Span));
    }
}
