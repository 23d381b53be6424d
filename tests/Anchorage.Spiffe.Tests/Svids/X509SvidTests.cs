using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Spiffe.Tests.Svids;

public sealed class X509SvidTests
{
    private static void AssertSameCertificates(IEnumerable<X509Certificate2> expected, IEnumerable<X509Certificate2> actual) =>
        Assert.Equal(expected.Select(c => Convert.ToHexString(c.RawData)), actual.Select(c => Convert.ToHexString(c.RawData)));

    private static readonly TestCa Root = TestCa.CreateRoot("example.org");
    private static readonly TestCa Intermediate = Root.CreateIntermediate();

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    private static void AssertInvalid(string message, Action load) =>
        Assert.Equal(message, Assert.Throws<SvidValidationException>(load).Message);

    private static void AssertMalformed(string message, Action load) =>
        Assert.Equal(message, Assert.Throws<FormatException>(load).Message);

    // ---- Loading: every encoding ----

    [Fact]
    public void Parse_PemChainAndPemKey_Loads()
    {
        var svid = Intermediate.IssueLeaf();
        var loaded = X509Svid.Parse(Utf8(svid.ChainPem), Utf8(svid.KeyPem));
        Assert.Equal("spiffe://example.org/workload", loaded.Id.ToString());
        AssertSameCertificates([svid.Leaf, Intermediate.Certificate], loaded.Certificates);
        Assert.Equal(svid.Leaf.RawData, loaded.Leaf.RawData);
        Assert.IsAssignableFrom<ECDsa>(loaded.PrivateKey);
        Assert.Null(loaded.Hint);
    }

    [Fact]
    public void Parse_DerChainAndDerKey_Loads()
    {
        var svid = Intermediate.IssueLeaf(new() { Key = TestKeyKind.Rsa2048 });
        var loaded = X509Svid.Parse(svid.ChainDer, svid.KeyPkcs8);
        Assert.Equal(2, loaded.Certificates.Length);
        Assert.IsAssignableFrom<RSA>(loaded.PrivateKey);
    }

    [Fact]
    public void FromDer_WorkloadApiEncoding_LoadsWithHint()
    {
        var svid = Intermediate.IssueLeaf(new() { Key = TestKeyKind.EcP384 });
        var loaded = X509Svid.FromDer(svid.ChainDer, svid.KeyPkcs8, "internal");
        Assert.Equal("internal", loaded.Hint);
        Assert.Same(loaded, loaded.GetX509Svid());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ParseCombined_KeyAndChainInEitherOrder_Loads(bool keyFirst)
    {
        var svid = Intermediate.IssueLeaf();
        var pem = keyFirst ? svid.KeyPem + svid.ChainPem : svid.ChainPem + svid.KeyPem;
        Assert.Equal(2, X509Svid.ParseCombined(Utf8(pem)).Certificates.Length);
    }

    [Fact]
    public void Load_Files_Loads()
    {
        using var openssl = new OpenSsl();
        var svid = Intermediate.IssueLeaf();
        var loaded = X509Svid.Load(openssl.WriteFile("svid.pem", svid.ChainPem), openssl.WriteFile("svid.key", svid.KeyPkcs8));
        Assert.Equal("spiffe://example.org/workload", loaded.Id.ToString());
    }

    [Fact]
    public void Parse_OpenSslKeysInEveryFormat_Load()
    {
        // openssl as the independent producer: PKCS#8, SEC 1 ("EC PRIVATE KEY") and PKCS#1 ("RSA PRIVATE KEY").
        using var openssl = new OpenSsl();
        var ca = new OpenSslCa(openssl);
        ca.CreateRoot("root");
        ca.Issue("ec", "root", OpenSslCa.LeafExtensions("spiffe://example.org/ec"));
        ca.Issue("rsa", "root", OpenSslCa.LeafExtensions("spiffe://example.org/rsa"), "RSA");
        openssl.Run("ec", "-in", "ec.key", "-out", "ec.sec1");
        openssl.Run("ec", "-in", "ec.key", "-outform", "DER", "-out", "ec.sec1.der");
        openssl.Run("rsa", "-in", "rsa.key", "-traditional", "-out", "rsa.pkcs1");
        openssl.Run("pkcs8", "-topk8", "-nocrypt", "-in", "ec.key", "-outform", "DER", "-out", "ec.p8.der");

        Assert.Contains("BEGIN EC PRIVATE KEY", openssl.ReadText("ec.sec1"));
        Assert.Contains("BEGIN RSA PRIVATE KEY", openssl.ReadText("rsa.pkcs1"));
        var cert = openssl.ReadBytes("ec.pem");
        Assert.Equal("spiffe://example.org/ec", X509Svid.Parse(cert, openssl.ReadBytes("ec.key")).Id.ToString());
        Assert.Equal("spiffe://example.org/ec", X509Svid.Parse(cert, openssl.ReadBytes("ec.sec1")).Id.ToString());
        Assert.Equal("spiffe://example.org/ec", X509Svid.Parse(cert, openssl.ReadBytes("ec.sec1.der")).Id.ToString());
        Assert.Equal("spiffe://example.org/ec", X509Svid.Parse(cert, openssl.ReadBytes("ec.p8.der")).Id.ToString());
        Assert.Equal("spiffe://example.org/rsa", X509Svid.Parse(openssl.ReadBytes("rsa.pem"), openssl.ReadBytes("rsa.pkcs1")).Id.ToString());

        // `openssl ecparam -genkey` writes an EC PARAMETERS block before the key: ignored.
        openssl.Run("ecparam", "-name", "prime256v1", "-genkey", "-out", "withparams.key");
        Assert.Contains("BEGIN EC PARAMETERS", openssl.ReadText("withparams.key"));
        openssl.Run("req", "-new", "-x509", "-key", "withparams.key", "-subj", "/CN=x", "-days", "1", "-out", "withparams.pem",
            "-addext", "subjectAltName=URI:spiffe://example.org/p", "-addext", "keyUsage=critical,digitalSignature",
            "-addext", "basicConstraints=critical,CA:FALSE");
        var combined = openssl.ReadText("withparams.key") + openssl.ReadText("withparams.pem");
        Assert.Equal("spiffe://example.org/p", X509Svid.ParseCombined(Utf8(combined)).Id.ToString());
    }

    // ---- Writing ----

    [Theory]
    [InlineData(TestKeyKind.EcP256)]
    [InlineData(TestKeyKind.Rsa2048)]
    public void Writers_RoundTripThroughEveryEncoding(TestKeyKind kind)
    {
        var source = Intermediate.IssueLeaf(new() { Key = kind });
        var svid = X509Svid.FromDer(source.ChainDer, source.KeyPkcs8);

        var fromPem = X509Svid.Parse(Utf8(svid.ToPem()), Utf8(svid.KeyToPem()));
        AssertSameCertificates(svid.Certificates, fromPem.Certificates);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", svid.KeyToPem());

        var fromDer = X509Svid.FromDer(svid.ChainToDer(), svid.KeyToPkcs8());
        Assert.Equal(source.ChainDer, fromDer.ChainToDer());
        Assert.Equal(svid.Id, fromDer.Id);
    }

    // ---- X509-SVID rules enforced at load ----

    public static TheoryData<string> LeafRuleCases => [.. LeafRules.Keys];

    private static readonly Dictionary<string, (TestLeafOptions Defect, TestLeafOptions Control, string Message)> LeafRules = new()
    {
        ["2: no URI SAN"] = (new() { UriSans = [] }, new(), "leaf certificate has no URI SAN"),
        ["2: two URI SANs"] = (
            new() { UriSans = ["spiffe://example.org/a", "spiffe://example.org/b"] },
            new() { UriSans = ["spiffe://example.org/a"] },
            "leaf certificate has 2 URI SANs; exactly one is allowed"),
        ["2: not a SPIFFE ID"] = (
            new() { UriSans = ["urn:example:workload"] },
            new(),
            "leaf certificate URI SAN is not a valid SPIFFE ID: scheme must be \"spiffe\" followed by \"://\""),
        ["3.1: root ID"] = (new() { UriSans = ["spiffe://example.org"] }, new(), "leaf certificate SPIFFE ID must have a path"),
        ["4.1: CA leaf"] = (new() { IsCa = true }, new(), "leaf certificate must not be a CA"),
        ["4.3: no key usage"] = (new() { OmitKeyUsage = true }, new(), "leaf certificate has no key usage extension"),
        ["4.3: no digitalSignature"] = (
            new() { DigitalSignature = false, KeyEncipherment = true },
            new() { KeyEncipherment = true },
            "leaf certificate key usage lacks digitalSignature"),
        ["4.3: keyCertSign"] = (new() { KeyCertSign = true }, new(), "leaf certificate must not have keyCertSign key usage"),
        ["4.3: cRLSign"] = (new() { CrlSign = true }, new(), "leaf certificate must not have cRLSign key usage"),
        ["RFC 5280 4.2: unknown critical"] = (
            new() { UnknownCriticalExtension = true },
            new(),
            "leaf certificate has unsupported critical extension 1.3.6.1.4.1.55555.1"),
    };

    [Theory]
    [Trait("Spec", "X509-SVID 2")]
    [Trait("Spec", "X509-SVID 3.1")]
    [Trait("Spec", "X509-SVID 4.1")]
    [Trait("Spec", "X509-SVID 4.3")]
    [MemberData(nameof(LeafRuleCases))]
    public void Parse_LeafBreaksRule_ThrowsAndControlLoads(string name)
    {
        var (defect, control, message) = LeafRules[name];
        var good = Intermediate.IssueLeaf(control);
        Assert.NotNull(X509Svid.FromDer(good.ChainDer, good.KeyPkcs8));
        var bad = Intermediate.IssueLeaf(defect);
        AssertInvalid(message, () => X509Svid.FromDer(bad.ChainDer, bad.KeyPkcs8));
    }

    public static TheoryData<string> SigningCertificateCases => [.. SigningRules.Keys];

    private static readonly Dictionary<string, (TestCaOptions Defect, string Message)> SigningRules = new()
    {
        ["4.1: intermediate not CA"] = (new() { IsCa = false }, "intermediate certificate 1 must be a CA"),
        ["4.1: intermediate without basic constraints"] = (new() { OmitBasicConstraints = true }, "intermediate certificate 1 must be a CA"),
        ["4.3: intermediate without keyCertSign"] = (new() { KeyCertSign = false }, "intermediate certificate 1 has no keyCertSign key usage"),
        ["4.3: intermediate without key usage"] = (new() { OmitKeyUsage = true }, "intermediate certificate 1 has no keyCertSign key usage"),
    };

    [Theory]
    [Trait("Spec", "X509-SVID 4.1")]
    [Trait("Spec", "X509-SVID 4.3")]
    [MemberData(nameof(SigningCertificateCases))]
    public void Parse_IntermediateBreaksRule_ThrowsAndControlLoads(string name)
    {
        var (defect, message) = SigningRules[name];
        var good = Root.CreateIntermediate().IssueLeaf();
        Assert.NotNull(X509Svid.FromDer(good.ChainDer, good.KeyPkcs8));
        var bad = Root.CreateIntermediate(defect).IssueLeaf();
        AssertInvalid(message, () => X509Svid.FromDer(bad.ChainDer, bad.KeyPkcs8));
    }

    [Theory]
    [InlineData(TestKeyKind.EcP256)]
    [InlineData(TestKeyKind.EcP384)]
    [InlineData(TestKeyKind.Rsa2048)]
    public void Parse_KeyOfAnotherCertificate_ThrowsAndControlLoads(TestKeyKind kind)
    {
        var good = Intermediate.IssueLeaf(new() { Key = kind });
        Assert.NotNull(X509Svid.FromDer(good.ChainDer, good.KeyPkcs8));
        var bad = Intermediate.IssueLeaf(new() { Key = kind, WrongKey = true });
        AssertInvalid("private key does not match the leaf certificate", () => X509Svid.FromDer(bad.ChainDer, bad.KeyPkcs8));
    }

    [Fact]
    public void Parse_KeyOfAnotherType_Throws()
    {
        var ec = Intermediate.IssueLeaf();
        var rsa = Intermediate.IssueLeaf(new() { Key = TestKeyKind.Rsa2048 });
        AssertInvalid("private key does not match the leaf certificate", () => X509Svid.FromDer(ec.ChainDer, rsa.KeyPkcs8));
    }

    // ---- Malformed input ----

    [Fact]
    public void Parse_MalformedInput_ThrowsFormatExceptionNamingThePart()
    {
        var svid = Intermediate.IssueLeaf();
        var key = Utf8(svid.KeyPem);
        var brokenSecond = PemEncoding.WriteString("CERTIFICATE", svid.Leaf.RawData) + "\n"
            + PemEncoding.WriteString("CERTIFICATE", new byte[] { 0x30, 0x03, 0x02, 0x01, 0x00 }) + "\n";

        AssertMalformed("certificate 2 is not a valid X.509 certificate", () => X509Svid.Parse(Utf8(brokenSecond), key));
        AssertMalformed("no certificates found", () => X509Svid.Parse(Utf8(svid.KeyPem), key));
        AssertMalformed("no certificates found", () => X509Svid.Parse([], key));
        AssertMalformed("certificates are neither PEM nor DER", () => X509Svid.Parse(Utf8("hello"), key));
        AssertMalformed("no private key found", () => X509Svid.Parse(Utf8(svid.ChainPem), Utf8(svid.ChainPem)));
        AssertMalformed("no private key found", () => X509Svid.Parse(Utf8(svid.ChainPem), []));
        AssertMalformed("private key is neither PEM nor DER", () => X509Svid.Parse(Utf8(svid.ChainPem), Utf8("secret")));
        AssertMalformed("no private key found", () => X509Svid.ParseCombined(Utf8(svid.ChainPem)));
        AssertMalformed("no certificates found", () => X509Svid.ParseCombined(key));
        AssertMalformed("more than one private key found", () => X509Svid.ParseCombined(Utf8(svid.ChainPem + svid.KeyPem + svid.KeyPem)));
        AssertMalformed("private key is not a valid PKCS#8 key", () => X509Svid.FromDer(svid.ChainDer, [0x04, 0x01, 0x00]));
        Assert.StartsWith("certificate 1 is not valid DER: ", Assert.Throws<FormatException>(() => X509Svid.FromDer([0x30, 0x10, 0x01], svid.KeyPkcs8)).Message);

        // Control: the same parts, well formed.
        Assert.NotNull(X509Svid.Parse(Utf8(svid.ChainPem), key));
    }

    [Fact]
    public void Parse_EncryptedOrUnsupportedKey_ThrowsFormatException()
    {
        using var openssl = new OpenSsl();
        var ca = new OpenSslCa(openssl);
        ca.CreateRoot("root");
        ca.Issue("leaf", "root", OpenSslCa.LeafExtensions("spiffe://example.org/x"));
        openssl.Run("pkcs8", "-topk8", "-in", "leaf.key", "-passout", "pass:secret", "-out", "leaf.enc");
        openssl.Run("genpkey", "-algorithm", "ED25519", "-out", "ed.key");
        var cert = openssl.ReadBytes("leaf.pem");

        Assert.NotNull(X509Svid.Parse(cert, openssl.ReadBytes("leaf.key")));
        AssertMalformed("private key is encrypted; an unencrypted PKCS#8 key is required", () => X509Svid.Parse(cert, openssl.ReadBytes("leaf.enc")));
        AssertMalformed("private key algorithm 1.3.101.112 is not supported; only EC and RSA keys are", () => X509Svid.Parse(cert, openssl.ReadBytes("ed.key")));
    }

    [Fact]
    public void Constructor_CallerBugs_ThrowArgumentException()
    {
        var svid = Intermediate.IssueLeaf();
        Assert.Throws<ArgumentException>(() => new X509Svid([], svid.Key));
        using var dsa = DSA.Create();
        Assert.Throws<ArgumentException>(() => new X509Svid(svid.Chain, dsa));
        Assert.Equal("spiffe://example.org/workload", new X509Svid(svid.Chain, svid.Key).Id.ToString());
    }

    [Fact]
    public void KeyMaterial_NeverInExceptionMessages()
    {
        var svid = Intermediate.IssueLeaf(new() { WrongKey = true });
        var pem = svid.KeyPem;
        var ex = Assert.Throws<SvidValidationException>(() => X509Svid.Parse(Utf8(svid.ChainPem), Utf8(pem)));
        var body = pem.Split('\n')[1];
        Assert.DoesNotContain(body[..16], ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void GetCertificateWithPrivateKey_HasKeyAndSigns()
    {
        var source = Intermediate.IssueLeaf();
        var svid = X509Svid.FromDer(source.ChainDer, source.KeyPkcs8);
        using var withKey = svid.GetCertificateWithPrivateKey();
        Assert.True(withKey.HasPrivateKey);
        Assert.Equal(svid.Leaf.RawData, withKey.RawData);
        using var key = withKey.GetECDsaPrivateKey();
        Assert.NotNull(key);
    }

    [Fact]
    public void FromDer_LoadedSvid_VerifiesWithVerifier()
    {
        var source = Intermediate.IssueLeaf();
        var svid = X509Svid.FromDer(source.ChainDer, source.KeyPkcs8);
        var result = new X509SvidVerifier(TestClock.Create()).Verify(svid.Certificates, Root.Bundle());
        Assert.Equal(svid.Id, result.Id);
    }
}
