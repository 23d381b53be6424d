using System.Security.Cryptography;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Internal;
using Anchorage.Testing.Bundles;

namespace Anchorage.Spiffe.Tests.Bundles;

/// <summary>Inputs found by fuzz/run bundle-json and pem-der.</summary>
public class BundleFuzzRegressionTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");

    // P-256's OID 1.2.840.10045.3.1.7 and the fuzzer's 1.2.111.72.10045.3.1.7, a curve no platform knows.
    private static readonly byte[] P256Oid = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    private static readonly byte[] UnknownCurveOid = [0x06, 0x08, 0x2A, 0x6F, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

    private static byte[] WithUnknownCurve(byte[] der)
    {
        var at = der.AsSpan().IndexOf(P256Oid);
        Assert.True(at >= 0);
        var copy = der.ToArray();
        UnknownCurveOid.CopyTo(copy, at);
        return copy;
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4")]
    public void Parse_InvalidUtf8InsideJsonString_ThrowsFormatExceptionAndControlParses()
    {
        var control = new SpiffeBundle(Td, [TestAuthorities.Ca(Td.Name)], []).ToUtf8Json();
        Assert.Single(SpiffeBundle.Parse(Td, control).X509Authorities); // positive control

        byte[] bad = [.. Encoding.UTF8.GetBytes("{\"keys\":[{\"kty\":\"EC\",\"use\":\"x509-svid\",\"x5c\":[\""), 0xFF, .. Encoding.UTF8.GetBytes("\"]}]}")];

        var e = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, bad));
        Assert.Equal("bundle is not valid UTF-8", e.Message);
    }

    [Fact]
    public void JwtAuthority_KeyOnUnknownCurve_ThrowsFormatExceptionAndControlLoads()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        Assert.NotNull(new JwtAuthority("k", spki).Ecdsa); // positive control

        var e = Assert.Throws<FormatException>(() => new JwtAuthority("k", WithUnknownCurve(spki)));
        Assert.Equal("key \"k\" is not a valid public key", e.Message);
    }

    [Fact]
    public void PrivateKeyReader_Sec1KeyOnUnknownCurve_ThrowsFormatExceptionAndControlLoads()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var sec1 = key.ExportECPrivateKey();
        PrivateKeyReader.FromDer(sec1).Dispose(); // positive control

        var e = Assert.Throws<FormatException>(() => PrivateKeyReader.FromDer(WithUnknownCurve(sec1)));
        Assert.Equal("private key is not a valid EC private key", e.Message);
    }
}
