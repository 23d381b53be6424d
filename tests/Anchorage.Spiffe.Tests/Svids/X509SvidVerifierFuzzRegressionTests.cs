using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Spiffe.Tests.Svids;

/// <summary>
/// Inputs found by fuzz/run x509-svid: an authority whose EC key names a curve OpenSSL does not know
/// threw PlatformNotSupportedException out of the verifier instead of "signs nothing".
/// </summary>
public sealed class X509SvidVerifierFuzzRegressionTests
{
    // DER of the named-curve OID 1.2.840.10045.3.1.7 (P-256) and of 1.2.840.10045.3.1.26 (unknown).
    private static readonly byte[] P256 = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    private static readonly byte[] UnknownCurve = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x1A];

    [Fact]
    [Trait("Spec", "X509-SVID 5.2")]
    public void Verify_AuthorityKeyOnUnknownCurve_RejectedAndControlVerifies()
    {
        var root = TestCa.CreateRoot("example.org");
        var leaf = root.IssueLeaf();
        var verifier = new X509SvidVerifier(TestClock.Create());
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/workload"), verifier.Verify(leaf.Chain, root.Bundle()).Id); // control

        var der = root.Certificate.RawData;
        var at = der.AsSpan().IndexOf(P256);
        Assert.True(at >= 0, "the test root's key is P-256");
        UnknownCurve.CopyTo(der, at);
        var bundle = new X509Bundle(root.TrustDomain, [X509CertificateLoader.LoadCertificate(der)]);

        var e = Assert.Throws<SvidValidationException>(() => verifier.Verify(leaf.Chain, bundle));
        Assert.StartsWith("leaf certificate does not chain to an authority of trust domain", e.Message);
    }
}
