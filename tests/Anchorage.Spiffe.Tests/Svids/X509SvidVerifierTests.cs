using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Spiffe.Tests.Svids;

public sealed class X509SvidVerifierTests
{
    private static void AssertSameCertificates(IEnumerable<X509Certificate2> expected, IEnumerable<X509Certificate2> actual) =>
        Assert.Equal(expected.Select(c => Convert.ToHexString(c.RawData)), actual.Select(c => Convert.ToHexString(c.RawData)));

    private static readonly TestCa Root = TestCa.CreateRoot("example.org");
    private static readonly TestCa Intermediate = Root.CreateIntermediate();
    private static readonly X509Bundle RootBundle = Root.Bundle();

    private static X509SvidVerification Verify(IReadOnlyList<X509Certificate2> chain, IX509BundleSource bundles) =>
        new X509SvidVerifier(TestClock.Create()).Verify(chain, bundles);

    private static void AssertRejected(string message, IReadOnlyList<X509Certificate2> chain, IX509BundleSource bundles)
    {
        var ex = Assert.Throws<SvidValidationException>(() => Verify(chain, bundles));
        Assert.Equal(message, ex.Message);
    }

    /// <summary>The defect verifies with its switch off (control) and fails with the exact message with it on.</summary>
    private static void AssertLeafCase(TestLeafOptions defect, TestLeafOptions control, string message)
    {
        var good = Intermediate.IssueLeaf(control);
        var result = Verify(good.Chain, RootBundle);
        Assert.Equal(SpiffeId.Parse($"spiffe://example.org{control.Path}"), result.Id);

        var bad = Intermediate.IssueLeaf(defect);
        AssertRejected(message, bad.Chain, RootBundle);
    }

    // ---- X509-SVID §2 / §3.1 / §5.2: the SPIFFE ID in the URI SAN ----

    public static TheoryData<string> SpiffeIdCases => [.. LeafSpiffeIdCases.Keys];

    private static readonly Dictionary<string, (TestLeafOptions Defect, TestLeafOptions Control, string Message)> LeafSpiffeIdCases = new()
    {
        ["no-uri-san"] = (new() { UriSans = [] }, new(), "leaf certificate has no URI SAN"),
        ["only-dns-san"] = (new() { UriSans = [], DnsNames = ["svc.example.org"] }, new() { DnsNames = ["svc.example.org"] }, "leaf certificate has no URI SAN"),
        ["two-uri-sans"] = (
            new() { UriSans = ["spiffe://example.org/workload", "spiffe://example.org/other"] },
            new() { UriSans = ["spiffe://example.org/workload"] },
            "leaf certificate has 2 URI SANs; exactly one is allowed"),
        ["https-uri"] = (
            new() { UriSans = ["https://example.org/workload"] },
            new(),
            "leaf certificate URI SAN is not a valid SPIFFE ID: scheme must be \"spiffe\" followed by \"://\""),
        ["dot-segment"] = (
            new() { UriSans = ["spiffe://example.org/a/../workload"] },
            new(),
            "leaf certificate URI SAN is not a valid SPIFFE ID: path cannot contain dot segments ('.' or '..')"),
        ["root-id"] = (new() { UriSans = ["spiffe://example.org"] }, new(), "leaf certificate SPIFFE ID must have a path"),
    };

    [Theory]
    [Trait("Spec", "X509-SVID 2")]
    [Trait("Spec", "X509-SVID 3.1")]
    [Trait("Spec", "X509-SVID 5.2")]
    [MemberData(nameof(SpiffeIdCases))]
    public void Verify_LeafSpiffeIdDefect_RejectedAndControlVerifies(string name)
    {
        var (defect, control, message) = LeafSpiffeIdCases[name];
        AssertLeafCase(defect, control, message);
    }

    // ---- X509-SVID §4.1 / §5.2: basic constraints of the leaf ----

    [Fact]
    [Trait("Spec", "X509-SVID 4.1")]
    [Trait("Spec", "X509-SVID 5.2")]
    public void Verify_LeafIsCa_Rejected() =>
        AssertLeafCase(new() { IsCa = true }, new() { IsCa = false }, "leaf certificate must not be a CA");

    [Fact]
    [Trait("Spec", "X509-SVID 4.1")]
    public void Verify_LeafWithoutBasicConstraints_Verifies()
    {
        var svid = Intermediate.IssueLeaf(new() { OmitBasicConstraints = true });
        Assert.Equal("spiffe://example.org/workload", Verify(svid.Chain, RootBundle).Id.ToString());
    }

    // ---- X509-SVID §4.3 / §5.2: key usage of the leaf ----

    public static TheoryData<string> KeyUsageCases => [.. LeafKeyUsageCases.Keys];

    private static readonly Dictionary<string, (TestLeafOptions Defect, TestLeafOptions Control, string Message)> LeafKeyUsageCases = new()
    {
        ["no-key-usage"] = (new() { OmitKeyUsage = true }, new(), "leaf certificate has no key usage extension"),
        ["no-digital-signature"] = (
            new() { DigitalSignature = false, KeyEncipherment = true },
            new() { KeyEncipherment = true },
            "leaf certificate key usage lacks digitalSignature"),
        ["key-cert-sign"] = (new() { KeyCertSign = true }, new(), "leaf certificate must not have keyCertSign key usage"),
        ["crl-sign"] = (new() { CrlSign = true }, new(), "leaf certificate must not have cRLSign key usage"),
    };

    [Theory]
    [Trait("Spec", "X509-SVID 4.3")]
    [Trait("Spec", "X509-SVID 5.2")]
    [MemberData(nameof(KeyUsageCases))]
    public void Verify_LeafKeyUsageDefect_RejectedAndControlVerifies(string name)
    {
        var (defect, control, message) = LeafKeyUsageCases[name];
        AssertLeafCase(defect, control, message);
    }

    // ---- X509-SVID §5.1: RFC 5280 path validation ----

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_LeafViaIntermediate_ReturnsIdAndPath()
    {
        var svid = Intermediate.IssueLeaf();
        var result = Verify(svid.Chain, RootBundle);
        Assert.Equal("spiffe://example.org/workload", result.Id.ToString());
        AssertSameCertificates([svid.Leaf, Intermediate.Certificate, Root.Certificate], result.Path);
        Assert.Same(RootBundle.Authorities[0], result.Path[2]);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_LeafDirectlyUnderRoot_Verifies()
    {
        var svid = Root.IssueLeaf();
        AssertSameCertificates([svid.Leaf, Root.Certificate], Verify(svid.Chain, RootBundle).Path);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_IntermediatesOutOfOrderWithExtras_Verifies()
    {
        var second = Intermediate.CreateIntermediate();
        var svid = second.IssueLeaf();
        var unrelated = TestCa.CreateRoot("example.org").CreateIntermediate().Certificate;
        X509Certificate2[] chain = [svid.Leaf, unrelated, Intermediate.Certificate, second.Certificate];
        AssertSameCertificates([svid.Leaf, second.Certificate, Intermediate.Certificate, Root.Certificate], Verify(chain, RootBundle).Path);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_MissingIntermediate_Rejected()
    {
        var svid = Intermediate.IssueLeaf();
        Assert.NotNull(Verify(svid.Chain, RootBundle));
        AssertRejected("leaf certificate does not chain to an authority of trust domain \"example.org\"", [svid.Leaf], RootBundle);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_SameIssuerNameDifferentKey_Rejected()
    {
        // An impostor CA with the real intermediate's name: the name matches, the signature does not.
        var impostor = Root.CreateIntermediate(new() { Subject = Intermediate.Certificate.Subject });
        var forged = impostor.IssueLeaf();
        var genuine = Intermediate.IssueLeaf();
        Assert.NotNull(Verify([genuine.Leaf, Intermediate.Certificate], RootBundle));
        AssertRejected(
            "leaf certificate does not chain to an authority of trust domain \"example.org\"",
            [forged.Leaf, Intermediate.Certificate],
            RootBundle);
    }

    public static TheoryData<string> PathCases => [.. PathDefects.Keys];

    /// <summary>Each case builds (defective chain, control chain with the switch off, message).</summary>
    private static readonly Dictionary<string, Func<(IReadOnlyList<X509Certificate2> Bad, IReadOnlyList<X509Certificate2> Good, string Message)>> PathDefects = new()
    {
        ["intermediate-not-ca"] = () => IntermediateCase(new() { IsCa = false }, "intermediate certificate 1 must be a CA"),
        ["intermediate-no-basic-constraints"] = () => IntermediateCase(new() { OmitBasicConstraints = true }, "intermediate certificate 1 must be a CA"),
        ["intermediate-no-key-cert-sign"] = () => IntermediateCase(new() { KeyCertSign = false }, "intermediate certificate 1 has no keyCertSign key usage"),
        ["intermediate-no-key-usage"] = () => IntermediateCase(new() { OmitKeyUsage = true }, "intermediate certificate 1 has no keyCertSign key usage"),
        ["intermediate-unknown-critical"] = () => IntermediateCase(
            new() { UnknownCriticalExtension = true }, "intermediate certificate 1 has unsupported critical extension 1.3.6.1.4.1.55555.1"),
        ["intermediate-expired"] = () => IntermediateCase(
            new() { NotAfter = TestClock.Now.AddSeconds(-1) }, "intermediate certificate 1 expired at 2029-12-31T23:59:59Z"),
        ["intermediate-not-yet-valid"] = () => IntermediateCase(
            new() { NotBefore = TestClock.Now.AddMinutes(1) }, "intermediate certificate 1 is not valid before 2030-01-01T00:01:00Z"),
        ["leaf-expired"] = () => LeafCase(new() { NotAfter = TestClock.Now.AddSeconds(-1) }, "leaf certificate expired at 2029-12-31T23:59:59Z"),
        ["leaf-not-yet-valid"] = () => LeafCase(new() { NotBefore = TestClock.Now.AddSeconds(1) }, "leaf certificate is not valid before 2030-01-01T00:00:01Z"),
        ["leaf-unknown-critical"] = () => LeafCase(new() { UnknownCriticalExtension = true }, "leaf certificate has unsupported critical extension 1.3.6.1.4.1.55555.1"),
        ["pathlen-0-with-intermediate-below"] = () => PathLengthCase(0, 1, "certificate chain exceeds the path length constraint of intermediate certificate 2"),
        ["pathlen-1-with-two-intermediates-below"] = () => PathLengthCase(1, 2, "certificate chain exceeds the path length constraint of intermediate certificate 3"),
    };

    private static (IReadOnlyList<X509Certificate2>, IReadOnlyList<X509Certificate2>, string) IntermediateCase(TestCaOptions defect, string message)
    {
        var bad = Root.CreateIntermediate(defect).IssueLeaf();
        var good = Root.CreateIntermediate().IssueLeaf();
        return (bad.Chain, good.Chain, message);
    }

    private static (IReadOnlyList<X509Certificate2>, IReadOnlyList<X509Certificate2>, string) LeafCase(TestLeafOptions defect, string message) =>
        (Intermediate.IssueLeaf(defect).Chain, Intermediate.IssueLeaf().Chain, message);

    private static (IReadOnlyList<X509Certificate2>, IReadOnlyList<X509Certificate2>, string) PathLengthCase(int pathLength, int below, string message)
    {
        // root -> constrained CA (pathLen) -> `below` more CAs -> leaf; the control allows `below`.
        IReadOnlyList<X509Certificate2> Build(int limit)
        {
            var ca = Root.CreateIntermediate(new() { PathLength = limit });
            for (var i = 0; i < below; i++)
            {
                ca = ca.CreateIntermediate();
            }

            return ca.IssueLeaf().Chain;
        }

        return (Build(pathLength), Build(below), message);
    }

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [Trait("Spec", "X509-SVID 4.1")]
    [Trait("Spec", "X509-SVID 4.3")]
    [MemberData(nameof(PathCases))]
    public void Verify_PathDefect_RejectedAndControlVerifies(string name)
    {
        var (bad, good, message) = PathDefects[name]();
        Assert.NotNull(Verify(good, RootBundle));
        AssertRejected(message, bad, RootBundle);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_AuthorityExpired_Rejected()
    {
        var expired = TestCa.CreateRoot("example.org", new() { NotAfter = TestClock.Now.AddSeconds(-1) });
        var valid = TestCa.CreateRoot("example.org");
        Assert.NotNull(Verify(valid.IssueLeaf().Chain, valid.Bundle()));
        AssertRejected(
            "authority certificate 1 of trust domain \"example.org\" expired at 2029-12-31T23:59:59Z",
            expired.IssueLeaf().Chain,
            expired.Bundle());
    }

    [Fact]
    [Trait("Spec", "X509-SVID 4.1")]
    public void Verify_AuthorityPathLengthZeroWithIntermediate_Rejected()
    {
        var constrained = TestCa.CreateRoot("example.org", new() { PathLength = 0 });
        var open = TestCa.CreateRoot("example.org", new() { PathLength = 1 });
        Assert.NotNull(Verify(open.CreateIntermediate().IssueLeaf().Chain, open.Bundle()));
        Assert.NotNull(Verify(constrained.IssueLeaf().Chain, constrained.Bundle()));
        AssertRejected(
            "certificate chain exceeds the path length constraint of authority certificate 1 of trust domain \"example.org\"",
            constrained.CreateIntermediate().IssueLeaf().Chain,
            constrained.Bundle());
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_NonSelfSignedAnchor_TrustEndsAtIt()
    {
        // The bundle holds only the intermediate; the root is neither in the bundle nor the chain.
        var second = Intermediate.CreateIntermediate();
        var bundle = Intermediate.Bundle();
        var direct = Intermediate.IssueLeaf();
        AssertSameCertificates([direct.Leaf, Intermediate.Certificate], Verify([direct.Leaf], bundle).Path);
        var deeper = second.IssueLeaf();
        AssertSameCertificates([deeper.Leaf, second.Certificate, Intermediate.Certificate], Verify([deeper.Leaf, second.Certificate], bundle).Path);

        // Sent with the full chain, the path still stops at the anchor.
        Assert.Equal(3, Verify(deeper.Chain, bundle).Path.Length);

        // A sibling under the same root is not trusted by that bundle.
        var sibling = Root.CreateIntermediate().IssueLeaf();
        AssertRejected("leaf certificate does not chain to an authority of trust domain \"example.org\"", sibling.Chain, bundle);
    }

    // ---- Trust-domain scoping (X509-SVID §5.1, SPIFFE_Trust_Domain_and_Bundle §4.2) ----

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_CrossTrustDomainForgery_Rejected()
    {
        var a = TestCa.CreateRoot("a.test");
        var b = TestCa.CreateRoot("b.test");
        var both = BundleSet.Empty.With(a.Bundle()).With(b.Bundle());
        Assert.Equal("spiffe://a.test/workload", Verify(a.IssueLeaf().Chain, both).Id.ToString());
        Assert.Equal("spiffe://b.test/workload", Verify(b.IssueLeaf().Chain, both).Id.ToString());

        // Domain a's CA signs an ID of domain b: b's bundle is used, and a's CA is not in it.
        var forged = a.IssueLeaf(new() { UriSans = ["spiffe://b.test/payments"] });
        AssertRejected("leaf certificate does not chain to an authority of trust domain \"b.test\"", forged.Chain, both);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_CrossTrustDomainForgeryWithSameCaName_Rejected()
    {
        var a = TestCa.CreateRoot("a.test", new() { Subject = "CN=Shared Root Name" });
        var b = TestCa.CreateRoot("b.test", new() { Subject = "CN=Shared Root Name" });
        var both = BundleSet.Empty.With(a.Bundle()).With(b.Bundle());
        Assert.NotNull(Verify(b.IssueLeaf().Chain, both));
        var forged = a.IssueLeaf(new() { UriSans = ["spiffe://b.test/payments"] });
        AssertRejected("leaf certificate does not chain to an authority of trust domain \"b.test\"", forged.Chain, both);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_NoBundleForLeafTrustDomain_ThrowsBundleNotFound()
    {
        var svid = TestCa.CreateRoot("other.test").IssueLeaf();
        var ex = Assert.Throws<BundleNotFoundException>(() => Verify(svid.Chain, RootBundle));
        Assert.Equal("no X.509 bundle for trust domain \"other.test\"", ex.Message);
        Assert.Equal(TrustDomain.Parse("other.test"), ex.TrustDomain);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_SourceReturnsBundleOfAnotherDomain_ThrowsBundleNotFound()
    {
        var svid = TestCa.CreateRoot("other.test").IssueLeaf();
        Assert.Throws<BundleNotFoundException>(() => Verify(svid.Chain, new LyingSource(RootBundle)));
        Assert.NotNull(Verify(Root.IssueLeaf().Chain, new LyingSource(RootBundle)));
    }

    private sealed class LyingSource(X509Bundle bundle) : IX509BundleSource
    {
        public bool TryGetX509Bundle(TrustDomain trustDomain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out X509Bundle? result)
        {
            result = bundle;
            return true;
        }
    }

    // ---- Signature algorithms ----

    public static TheoryData<string> AlgorithmCases => [.. Algorithms.Keys];

    private static readonly Dictionary<string, (TestCaOptions Root, TestCaOptions Intermediate, TestLeafOptions Leaf)> Algorithms = new()
    {
        ["ecdsa-p256-sha256"] = (new(), new(), new()),
        ["ecdsa-p384-sha384"] = (new() { Key = TestKeyKind.EcP384 }, new() { Key = TestKeyKind.EcP384 }, new() { Key = TestKeyKind.EcP384 }),
        ["ecdsa-p521-sha512"] = (new() { Key = TestKeyKind.EcP521 }, new() { Key = TestKeyKind.EcP521 }, new()),
        ["ecdsa-p256-sha384"] = (new(), new() { SignatureHash = HashAlgorithmName.SHA384 }, new() { SignatureHash = HashAlgorithmName.SHA512 }),
        ["rsa-pkcs1-sha256"] = (new() { Key = TestKeyKind.Rsa2048 }, new() { Key = TestKeyKind.Rsa2048 }, new() { Key = TestKeyKind.Rsa2048 }),
        ["rsa-pkcs1-sha512"] = (new() { Key = TestKeyKind.Rsa2048 }, new() { SignatureHash = HashAlgorithmName.SHA512 }, new()),
        ["rsa-pss-sha256"] = (new() { Key = TestKeyKind.Rsa2048 }, new() { Key = TestKeyKind.Rsa2048, RsaPss = true }, new() { RsaPss = true }),
        ["rsa-pss-sha384"] = (new() { Key = TestKeyKind.Rsa2048 }, new() { RsaPss = true, SignatureHash = HashAlgorithmName.SHA384 }, new()),
        ["rsa-root-ec-leaf"] = (new() { Key = TestKeyKind.Rsa2048 }, new(), new() { Key = TestKeyKind.EcP384 }),
    };

    [Theory]
    [Trait("Spec", "X509-SVID 5.1")]
    [MemberData(nameof(AlgorithmCases))]
    public void Verify_SupportedAlgorithm_VerifiesAndTamperingIsRejected(string name)
    {
        var (rootOptions, intermediateOptions, leafOptions) = Algorithms[name];
        var root = TestCa.CreateRoot("example.org", rootOptions);
        var intermediate = root.CreateIntermediate(intermediateOptions);
        var svid = intermediate.IssueLeaf(leafOptions);
        Assert.Equal(3, Verify(svid.Chain, root.Bundle()).Path.Length);

        // Flip one bit inside the leaf's signature: the same chain must then fail.
        var der = svid.Leaf.RawData;
        der[^3] ^= 0x01;
        var tampered = X509CertificateLoader.LoadCertificate(der);
        AssertRejected("leaf certificate does not chain to an authority of trust domain \"example.org\"", [tampered, intermediate.Certificate], root.Bundle());
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_UnsupportedSignatureAlgorithm_Rejected()
    {
        // .NET refuses to make SHA-1 signatures, so openssl makes the leaf; the control differs only in the hash.
        using var openssl = new OpenSsl();
        var ca = new OpenSslCa(openssl);
        var root = ca.CreateRoot("root", algorithm: "RSA");
        var sha256 = ca.Issue("sha256", "root", OpenSslCa.LeafExtensions("spiffe://example.org/x"), "P-256", 30, "-sha256");
        var sha1 = ca.Issue("sha1", "root", OpenSslCa.LeafExtensions("spiffe://example.org/x"), "P-256", 30, "-sha1");
        var bundle = new X509Bundle(TrustDomain.Parse("example.org"), [root]);
        var verifier = new X509SvidVerifier(TestClock.Create(sha1.NotBefore.ToUniversalTime().AddMinutes(1)));
        Assert.NotNull(verifier.Verify([sha256], bundle));
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify([sha1], bundle));
        Assert.Equal("leaf certificate has unsupported signature algorithm 1.2.840.113549.1.1.5", ex.Message);
    }

    // ---- openssl CLI as an independent producer ----

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_OpenSslChains_ValidOnesVerifyInvalidOnesAreRejected()
    {
        using var openssl = new OpenSsl();
        var ca = new OpenSslCa(openssl);
        var root = ca.CreateRoot("root");
        var intermediate = ca.Issue("intermediate", "root", OpenSslCa.CaExtensions + "authorityKeyIdentifier=keyid\n");
        var leaf = ca.Issue("leaf", "intermediate", OpenSslCa.LeafExtensions("spiffe://example.org/openssl"));
        var rsaRoot = ca.CreateRoot("rsaroot", algorithm: "RSA");
        var pssLeaf = ca.Issue("pssleaf", "rsaroot", OpenSslCa.LeafExtensions("spiffe://example.org/pss"), "P-384", 30,
            "-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest");
        var p384 = ca.Issue("p384", "intermediate", OpenSslCa.LeafExtensions("spiffe://example.org/p384"), "P-384", 30, "-sha384");
        var caLeaf = ca.Issue("caleaf", "intermediate",
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\nsubjectAltName=URI:spiffe://example.org/x\n");
        var certSignLeaf = ca.Issue("certsignleaf", "intermediate",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\nsubjectAltName=URI:spiffe://example.org/x\n");
        var twoUris = ca.Issue("twouris", "intermediate",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=URI:spiffe://example.org/x,URI:spiffe://example.org/y\n");
        var badIntermediate = ca.Issue("badint", "root", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,cRLSign,digitalSignature\n");
        var underBad = ca.Issue("underbad", "badint", OpenSslCa.LeafExtensions("spiffe://example.org/x"));
        var zeroPath = ca.Issue("zeropath", "root", "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n");
        var belowZero = ca.Issue("belowzero", "zeropath", OpenSslCa.CaExtensions);
        var underBelowZero = ca.Issue("underbelowzero", "belowzero", OpenSslCa.LeafExtensions("spiffe://example.org/x"));
        var shortLived = ca.Issue("shortlived", "intermediate", OpenSslCa.LeafExtensions("spiffe://example.org/short"), days: 1);

        var bundles = BundleSet.Empty.With(new X509Bundle(TrustDomain.Parse("example.org"), [root, rsaRoot]));
        var verifier = new X509SvidVerifier(TestClock.Create(leaf.NotBefore.ToUniversalTime().AddMinutes(1)));

        Assert.Equal("spiffe://example.org/openssl", verifier.Verify([leaf, intermediate], bundles).Id.ToString());
        Assert.Equal("spiffe://example.org/pss", verifier.Verify([pssLeaf], bundles).Id.ToString());
        Assert.Equal("spiffe://example.org/p384", verifier.Verify([p384, intermediate], bundles).Id.ToString());
        Assert.Equal("spiffe://example.org/short", verifier.Verify([shortLived, intermediate], bundles).Id.ToString());

        void Rejected(string message, params X509Certificate2[] chain) =>
            Assert.Equal(message, Assert.Throws<SvidValidationException>(() => verifier.Verify(chain, bundles)).Message);

        Rejected("leaf certificate must not be a CA", caLeaf, intermediate);
        Rejected("leaf certificate must not have keyCertSign key usage", certSignLeaf, intermediate);
        Rejected("leaf certificate has 2 URI SANs; exactly one is allowed", twoUris, intermediate);
        Rejected("intermediate certificate 1 has no keyCertSign key usage", underBad, badIntermediate);
        Rejected("certificate chain exceeds the path length constraint of intermediate certificate 2", underBelowZero, belowZero, zeroPath);

        var later = shortLived.NotAfter.ToUniversalTime().AddSeconds(1);
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify([shortLived, intermediate], bundles, later));
        Assert.Equal($"leaf certificate expired at {shortLived.NotAfter.ToUniversalTime():yyyy-MM-dd'T'HH:mm:ss'Z'}", ex.Message);

        // openssl agrees on the valid chain (it checks signatures and extensions independently).
        var check = openssl.TryRun("verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "leaf.pem");
        Assert.Equal(0, check.ExitCode);
    }

    // ---- The verified-intermediate cache ----

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_ChangedBundleObject_HonouredAtOnce()
    {
        var verifier = new X509SvidVerifier(TestClock.Create());
        var root = TestCa.CreateRoot("example.org");
        var intermediate = root.CreateIntermediate();
        var first = root.Bundle();
        Assert.NotNull(verifier.Verify(intermediate.IssueLeaf().Chain, first));
        Assert.NotNull(verifier.Verify(intermediate.IssueLeaf().Chain, first)); // served from the cache

        // The root is rotated out: a new bundle instance without it must reject at once.
        var rotated = TestCa.CreateRoot("example.org").Bundle();
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify(intermediate.IssueLeaf().Chain, rotated));
        Assert.Equal("leaf certificate does not chain to an authority of trust domain \"example.org\"", ex.Message);

        // And a bundle set whose example.org entry was replaced is honoured too.
        var set = BundleSet.Empty.With(first);
        Assert.NotNull(verifier.Verify(intermediate.IssueLeaf().Chain, set));
        Assert.Throws<SvidValidationException>(() => verifier.Verify(intermediate.IssueLeaf().Chain, set.With(rotated)));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_CachedIntermediateLaterExpired_Rejected()
    {
        var clock = TestClock.Create();
        var verifier = new X509SvidVerifier(clock);
        var intermediate = Root.CreateIntermediate(new() { NotAfter = TestClock.Now.AddMinutes(30) });
        Assert.NotNull(verifier.Verify(intermediate.IssueLeaf().Chain, RootBundle));

        clock.Advance(TimeSpan.FromMinutes(31));
        var leaf = intermediate.IssueLeaf(new() { NotBefore = clock.GetUtcNow().AddMinutes(-1), NotAfter = clock.GetUtcNow().AddHours(1) });
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify(leaf.Chain, RootBundle));
        Assert.Equal("intermediate certificate 1 expired at 2030-01-01T00:30:00Z", ex.Message);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_CachedIntermediateButForgedLeaf_Rejected()
    {
        var verifier = new X509SvidVerifier(TestClock.Create());
        Assert.NotNull(verifier.Verify(Intermediate.IssueLeaf().Chain, RootBundle));
        var impostor = Root.CreateIntermediate(new() { Subject = Intermediate.Certificate.Subject });
        var forged = impostor.IssueLeaf();
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify([forged.Leaf, Intermediate.Certificate], RootBundle));
        Assert.Equal("leaf certificate does not chain to an authority of trust domain \"example.org\"", ex.Message);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_CachedDeepPathWithoutUpperIntermediate_Rejected()
    {
        var verifier = new X509SvidVerifier(TestClock.Create());
        var second = Intermediate.CreateIntermediate();
        Assert.NotNull(verifier.Verify(second.IssueLeaf().Chain, RootBundle));
        Assert.NotNull(verifier.Verify(second.IssueLeaf().Chain, RootBundle));
        Assert.Throws<SvidValidationException>(() => verifier.Verify([second.IssueLeaf().Leaf, second.Certificate], RootBundle));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public void Verify_ExplicitTime_UsedInsteadOfClock()
    {
        var verifier = new X509SvidVerifier(TestClock.Create());
        var svid = Intermediate.IssueLeaf();
        Assert.NotNull(verifier.Verify(svid.Chain, RootBundle, TestClock.Now.AddMinutes(59)));
        var ex = Assert.Throws<SvidValidationException>(() => verifier.Verify(svid.Chain, RootBundle, TestClock.Now.AddHours(2)));
        Assert.Equal("leaf certificate expired at 2030-01-01T01:00:00Z", ex.Message);
    }

    [Fact]
    public void Verify_ConcurrentCallers_AllSucceed()
    {
        var verifier = new X509SvidVerifier(TestClock.Create());
        var leaves = Enumerable.Range(0, 8).Select(_ => Intermediate.IssueLeaf().Chain).ToArray();
        var failures = 0;
        Parallel.For(0, 400, i =>
        {
            try
            {
                verifier.Verify(leaves[i % leaves.Length], RootBundle);
            }
            catch (SvidValidationException)
            {
                Interlocked.Increment(ref failures);
            }
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void Verify_EmptyChain_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => Verify([], RootBundle));
        Assert.Throws<ArgumentNullException>(() => Verify(null!, RootBundle));
    }
}
