using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;

namespace Anchorage.Server.Tests.Ca;

public class X509SvidIssuerTests
{
    public static TheoryData<KeyType, KeyType> KeyPairs => new()
    {
        { KeyType.EcP256, KeyType.EcP256 },
        { KeyType.EcP256, KeyType.Rsa2048 },
        { KeyType.EcP384, KeyType.EcP256 },
        { KeyType.Rsa2048, KeyType.EcP384 },
    };

    [Theory]
    [MemberData(nameof(KeyPairs))]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Issue_AnyCaAndSubjectKey_VerifiesWithCoreVerifierAgainstBundle(KeyType caKey, KeyType subjectKey)
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock, caKey);
        var issuer = new X509SvidIssuer(ca, clock);

        using var leaf = issuer.IssueCertificate(CaFixture.Workload, CaFixture.Spki(subjectKey), ["web.example.org"]);
        var result = new X509SvidVerifier(clock).Verify([leaf], new X509Bundle(CaFixture.Td, ca.BundleAuthorities));

        Assert.Equal(CaFixture.Workload, result.Id);
        Assert.Equal(clock.GetUtcNow() - RotationPlanner.Backdate, new DateTimeOffset(leaf.NotBefore.ToUniversalTime()));
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromHours(1), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
    }

    [Theory]
    [InlineData(KeyType.EcP256, "ecdsa-with-SHA256", "Digital Signature")]
    [InlineData(KeyType.EcP384, "ecdsa-with-SHA384", "Digital Signature")]
    [InlineData(KeyType.Rsa2048, "sha256WithRSAEncryption", "Digital Signature, Key Encipherment")]
    [Trait("Spec", "X509-SVID 4.3")]
    public void Issue_OpenSslReadsIt_OneUriSanCriticalKeyUsageCaFalseServerAndClientAuth(KeyType keyType, string signatureAlgorithm, string keyUsage)
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock, keyType);
        var issuer = new X509SvidIssuer(ca, clock);
        using var openssl = new OpenSsl();
        openssl.WriteFile("ca.pem", CaFixture.Pem(ca.Certificate.RawData));
        openssl.WriteFile("leaf.pem", CaFixture.Pem(issuer.Issue(CaFixture.Workload, CaFixture.Spki(keyType), ["web.example.org", "api.example.org"])));

        var verify = openssl.Run("verify", "-attime", CaFixture.Epoch(clock.GetUtcNow()), "-CAfile", "ca.pem", "leaf.pem");
        var text = openssl.Run("x509", "-in", "leaf.pem", "-noout", "-text").StandardOutput;

        Assert.Contains("leaf.pem: OK", verify.StandardOutput);
        Assert.Contains("Version: 3 (0x2)", text);
        Assert.Contains("Signature Algorithm: " + signatureAlgorithm, text);
        Assert.Contains("Subject: O = Anchorage, CN = web.example.org", text);
        Assert.Contains("X509v3 Basic Constraints: critical\n                CA:FALSE", text);
        Assert.Contains("X509v3 Key Usage: critical\n                " + keyUsage + "\n", text);
        Assert.DoesNotContain("Certificate Sign", text);
        Assert.Contains("X509v3 Extended Key Usage: \n                TLS Web Server Authentication, TLS Web Client Authentication", text);
        Assert.Contains("X509v3 Subject Alternative Name: \n                URI:spiffe://example.org/ns/prod/sa/web, DNS:web.example.org, DNS:api.example.org", text);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "URI:"));
        Assert.Contains("X509v3 Subject Key Identifier", text);
        Assert.Contains("X509v3 Authority Key Identifier: \n                " + string.Join(':', Convert.ToHexString(ca.KeyIdentifier.Span).Chunk(2).Select(c => new string(c))), text);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 2")]
    public void Issue_NoDnsNames_SubjectIsOrganizationOnlyAndSanHasOnlyTheUri()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        using var leaf = new X509SvidIssuer(ca, clock).IssueCertificate(CaFixture.Workload, CaFixture.Spki());

        Assert.Equal("O=Anchorage", leaf.Subject);
        var san = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Empty(san.EnumerateDnsNames());
        Assert.True(X509Svid.TryGetSpiffeId(leaf, out var id));
        Assert.Equal(CaFixture.Workload, id);
    }

    [Fact]
    public void Issue_TwoSvids_HaveDistinctPositiveSerialsOf128BitsAndIssuerIsCaSubjectVerbatim()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        var issuer = new X509SvidIssuer(ca, clock);
        var spki = CaFixture.Spki();

        using var a = issuer.IssueCertificate(CaFixture.Workload, spki);
        using var b = issuer.IssueCertificate(CaFixture.Workload, spki);

        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
        foreach (var leaf in new[] { a, b })
        {
            var serial = leaf.SerialNumberBytes.Span; // big-endian
            Assert.InRange(serial.Length, 16, 17);
            Assert.True(serial[0] < 0x80);
            Assert.Equal(ca.Certificate.SubjectName.RawData, leaf.IssuerName.RawData);
            Assert.Equal(spki, leaf.PublicKey.ExportSubjectPublicKeyInfo());
        }
    }

    [Fact]
    public void Issue_RequestedTtlAboveCap_CappedAtCaLifetimeOverSix()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock, ttl: TimeSpan.FromHours(6));
        var issuer = new X509SvidIssuer(ca, clock);

        using var capped = issuer.IssueCertificate(CaFixture.Workload, CaFixture.Spki(), ttl: TimeSpan.FromHours(5));
        using var asked = issuer.IssueCertificate(CaFixture.Workload, CaFixture.Spki(), ttl: TimeSpan.FromMinutes(30));

        // The CA's life is 6 h plus the 10 s backdate, so the cap is (6 h + 10 s) / 6, in whole seconds.
        Assert.Equal(TimeSpan.FromSeconds(3601), issuer.MaxTtl);
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1), new DateTimeOffset(capped.NotAfter.ToUniversalTime()));
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromMinutes(30), new DateTimeOffset(asked.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public void Issue_NearCaExpiry_NotAfterIsTheCaNotAfter()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        var issuer = new X509SvidIssuer(ca, clock);
        clock.Advance(TimeSpan.FromHours(23.9));

        using var leaf = issuer.IssueCertificate(CaFixture.Workload, CaFixture.Spki());

        Assert.Equal(ca.NotAfter, new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        clock.Advance(TimeSpan.FromHours(1));
        var expired = Assert.Throws<InvalidOperationException>(() => issuer.Issue(CaFixture.Workload, CaFixture.Spki()));
        Assert.StartsWith("ca is not valid now (valid from ", expired.Message);
    }

    [Fact]
    public void Issue_After2049_UsesGeneralizedTime()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2049, 12, 31, 20, 0, 0, TimeSpan.Zero));
        using var ca = CaFixture.SelfSigned(clock);
        var der = new X509SvidIssuer(ca, clock).Issue(CaFixture.Workload, CaFixture.Spki(), ttl: TimeSpan.FromHours(4));

        var tbs = new AsnReader(der, AsnEncodingRules.DER).ReadSequence().ReadSequence();
        tbs.ReadEncodedValue(); // version
        tbs.ReadEncodedValue(); // serial
        tbs.ReadEncodedValue(); // signature
        tbs.ReadEncodedValue(); // issuer
        var validity = tbs.ReadSequence();
        Assert.Equal(UniversalTagNumber.UtcTime, (UniversalTagNumber)validity.PeekTag().TagValue);
        Assert.Equal(new DateTimeOffset(2049, 12, 31, 19, 59, 50, TimeSpan.Zero), validity.ReadUtcTime());
        Assert.Equal(UniversalTagNumber.GeneralizedTime, (UniversalTagNumber)validity.PeekTag().TagValue);
        Assert.Equal(new DateTimeOffset(2050, 1, 1, 0, 0, 0, TimeSpan.Zero), validity.ReadGeneralizedTime());
    }

    public static TheoryData<string, byte[], string> BadKeys()
    {
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var rsa1024 = RSA.Create(1024);
        var good = CaFixture.Spki();
        return new TheoryData<string, byte[], string>
        {
            { "p521", p521.ExportSubjectPublicKeyInfo(), "public key type ec-p521 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)" },
            { "rsa1024", rsa1024.ExportSubjectPublicKeyInfo(), "public key type rsa-1024 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)" },
            { "truncated", good[..^1], "public key is not a valid SubjectPublicKeyInfo" },
            { "trailing", [.. good, 0], "public key is not a valid SubjectPublicKeyInfo" },
            { "empty", [], "public key is not a valid SubjectPublicKeyInfo" },
        };
    }

    [Theory]
    [MemberData(nameof(BadKeys))]
    public void Issue_UnsupportedOrMalformedKey_ThrowsFormatException(string name, byte[] spki, string message)
    {
        _ = name;
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        var issuer = new X509SvidIssuer(ca, clock);

        var ex = Assert.Throws<FormatException>(() => issuer.Issue(CaFixture.Workload, spki));

        Assert.Equal(message, ex.Message);
        Assert.NotEmpty(issuer.Issue(CaFixture.Workload, CaFixture.Spki())); // positive control, same issuer
    }

    [Fact]
    public void Issue_Ed25519Key_ThrowsFormatExceptionNamingTheType()
    {
        using var openssl = new OpenSsl();
        openssl.Run("genpkey", "-algorithm", "ed25519", "-out", "k.pem");
        openssl.Run("pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "k.der");
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);

        var ex = Assert.Throws<FormatException>(() => new X509SvidIssuer(ca, clock).Issue(CaFixture.Workload, openssl.ReadBytes("k.der")));

        Assert.Equal("public key type ed25519 not supported; use ec-p256, ec-p384 or rsa (2048 to 8192 bits, public exponent at most 2^32)", ex.Message);
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { "spiffe://other.org/web", "spiffe id \"spiffe://other.org/web\" is not in trust domain \"example.org\" of this ca (Parameter 'id')" },
        { "dns:bad_name", "dns name \"bad_name\" is not a valid dns name (Parameter 'dnsNames')" },
        { "dns:-a.example", "dns name \"-a.example\" is not a valid dns name (Parameter 'dnsNames')" },
        { "dns:", "dns name \"\" is not a valid dns name (Parameter 'dnsNames')" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public void Issue_BadIdOrDnsName_ThrowsArgumentException(string input, string message)
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        var issuer = new X509SvidIssuer(ca, clock);
        var (id, dns) = input.StartsWith("dns:", StringComparison.Ordinal)
            ? (CaFixture.Workload, new[] { input[4..] })
            : (SpiffeId.Parse(input), Array.Empty<string>());

        var ex = Assert.ThrowsAny<ArgumentException>(() => issuer.Issue(id, CaFixture.Spki(), dns));

        Assert.Equal(message, ex.Message);
        Assert.NotEmpty(issuer.Issue(CaFixture.Workload, CaFixture.Spki(), ["*.example.org", "a-b.example.org"]));
    }

    [Fact]
    public void Issue_ExplicitWindowOutsideCaOrAboveCap_ThrowsArgumentException()
    {
        var clock = CaFixture.Clock();
        using var ca = CaFixture.SelfSigned(clock);
        var issuer = new X509SvidIssuer(ca, clock);
        var now = clock.GetUtcNow();
        var spki = CaFixture.Spki();

        Assert.Equal(
            $"svid notAfter {ca.NotAfter.AddHours(1):O} is after the ca's notAfter {ca.NotAfter:O} (Parameter 'notAfter')",
            Assert.Throws<ArgumentException>(() => issuer.Issue(CaFixture.Workload, spki, null, ca.NotAfter.AddHours(-1), ca.NotAfter.AddHours(1))).Message);
        Assert.Equal(
            $"svid notBefore {ca.NotBefore.AddSeconds(-1):O} is before the ca's notBefore {ca.NotBefore:O} (Parameter 'notBefore')",
            Assert.Throws<ArgumentException>(() => issuer.Issue(CaFixture.Workload, spki, null, ca.NotBefore.AddSeconds(-1), now.AddHours(1))).Message);
        Assert.Equal(
            "svid notAfter must be after notBefore (whole seconds) (Parameter 'notAfter')",
            Assert.Throws<ArgumentException>(() => issuer.Issue(CaFixture.Workload, spki, null, now, now.AddMilliseconds(900))).Message);
        Assert.Equal(
            "svid lifetime 04:00:12 exceeds the cap 04:00:01 (ca lifetime / 6, at most 7 days) plus the 10 s backdate (Parameter 'notAfter')",
            Assert.Throws<ArgumentException>(() => issuer.Issue(CaFixture.Workload, spki, null, now, now.AddHours(4).AddSeconds(12))).Message);
        Assert.NotEmpty(issuer.Issue(CaFixture.Workload, spki, null, now, now.AddHours(4)));
    }
}
