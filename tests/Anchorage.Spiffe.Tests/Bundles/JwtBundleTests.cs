using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;

namespace Anchorage.Spiffe.Tests.Bundles;

public class JwtBundleTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    private static readonly TrustDomain Other = TrustDomain.Parse("other.org");

    [Fact]
    [Trait("Spec", "JWT-SVID 6.2")]
    public void TryGetAuthority_ByKeyId()
    {
        var bundle = new JwtBundle(Td, [TestAuthorities.Jwt("a"), TestAuthorities.Jwt("b", TestKeyKind.Rsa2048)]);

        Assert.True(bundle.TryGetAuthority("b", out var b));
        Assert.NotNull(b!.Rsa);
        Assert.Null(b.Ecdsa);
        Assert.False(bundle.TryGetAuthority("B", out _));
        Assert.False(bundle.TryGetAuthority("c", out var none));
        Assert.Null(none);
        Assert.Equal(["a", "b"], bundle.Authorities.Select(a => a.KeyId));
    }

    [Fact]
    public void Ctor_RepeatedKeyId_ThrowsArgumentException()
    {
        var ex = Assert.Throws<ArgumentException>(() => new JwtBundle(Td, [TestAuthorities.Jwt("a"), TestAuthorities.Jwt("a", TestKeyKind.P384)]));

        Assert.Equal("key id \"a\" appears more than once (Parameter 'authorities')", ex.Message);
        Assert.Equal(2, new JwtBundle(Td, [TestAuthorities.Jwt("a"), TestAuthorities.Jwt("b", TestKeyKind.P384)]).Authorities.Length);
    }

    [Fact]
    public void Ctor_EmptyTrustDomain_ThrowsArgumentException()
    {
        Assert.Equal("trust domain is empty (Parameter 'trustDomain')", Assert.Throws<ArgumentException>(() => new JwtBundle(default, [])).Message);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 3")]
    public void TryGetJwtBundle_OnlyForItsOwnTrustDomain()
    {
        var bundle = new JwtBundle(Td, [TestAuthorities.Jwt("a")]);

        Assert.True(bundle.TryGetJwtBundle(Td, out var same));
        Assert.Same(bundle, same);
        Assert.False(bundle.TryGetJwtBundle(Other, out var none));
        Assert.Null(none);
    }

    [Fact]
    public void JwtAuthority_Ed25519FromOpenSsl_Unsupported()
    {
        var dir = Directory.CreateTempSubdirectory("anchorage-openssl-");
        try
        {
            OpenSslAuthority.Run(dir.FullName, ["genpkey", "-algorithm", "ed25519", "-out", "k.pem"]);
            OpenSslAuthority.Run(dir.FullName, ["pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der"]);
            var spki = File.ReadAllBytes(Path.Combine(dir.FullName, "pub.der"));

            var ex = Assert.Throws<FormatException>(() => new JwtAuthority("ed", spki));

            Assert.Equal("key \"ed\" has unsupported algorithm 1.3.101.112; only EC and RSA keys are supported", ex.Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void JwtAuthority_FromOpenSslEcKey_Loads()
    {
        var ca = OpenSslAuthority.Create("example.org", "P-256");

        var authority = new JwtAuthority("ec", ca.SubjectPublicKeyInfo);

        Assert.NotNull(authority.Ecdsa);
        Assert.Equal(ca.SubjectPublicKeyInfo, authority.SubjectPublicKeyInfo.ToArray());
    }

    [Fact]
    public void JwtAuthority_Malformed_Throws()
    {
        Assert.Equal("public key is not a valid SubjectPublicKeyInfo", Assert.Throws<FormatException>(() => new JwtAuthority("k", [0x30, 0x03, 0x02, 0x01, 0x01])).Message);
        Assert.Throws<ArgumentException>(() => new JwtAuthority(string.Empty, TestAuthorities.Jwt("x").SubjectPublicKeyInfo.Span));
        Assert.Equal("k", new JwtAuthority("k", TestAuthorities.Jwt("x").SubjectPublicKeyInfo.Span).KeyId);
    }

    [Fact]
    public void JwtAuthority_SameAs_ComparesKidAndKey()
    {
        var a = TestAuthorities.Jwt("a");

        Assert.True(a.SameAs(JwtAuthority.FromKey("a", TestAuthorities.Key(TestKeyKind.P256))));
        Assert.False(a.SameAs(TestAuthorities.Jwt("b")));
        Assert.False(a.SameAs(TestAuthorities.Jwt("a", TestKeyKind.P256, 1)));
    }

    [Fact]
    public void JwtAuthority_FromPrivateKey_KeepsOnlyPublicPart()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        var authority = JwtAuthority.FromKey("k", key);

        Assert.Throws<CryptographicException>(() => authority.Ecdsa!.ExportParameters(true));
    }
}
