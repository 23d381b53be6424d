using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;

namespace Anchorage.Spiffe.Tests.Svids;

public sealed class JwtSvidTests
{
    private static readonly SpiffeId Subject = SpiffeId.Parse("spiffe://a/x");

    public static TheoryData<string, string> SigningKeys => new()
    {
        { "k1", "ES256" },
        { "k384", "ES384" },
        { "k521", "ES512" },
        { "rsa", "RS256" },
        { "rsa", "RS384" },
        { "rsa", "RS512" },
        { "rsa", "PS256" },
        { "rsa", "PS384" },
        { "rsa", "PS512" },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 2")]
    [MemberData(nameof(SigningKeys))]
    public void Mint_EveryAlgorithm_CarriesRequiredHeadersAndClaimsAndValidates(string kid, string alg)
    {
        var kit = new JwtKit();
        var key = SigningKey(kit, kid, alg);
        var token = JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), key, kit.Clock);

        var parts = token.Split('.');
        Assert.Equal(3, parts.Length);
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[0]));
        Assert.Equal(["alg", "kid", "typ"], header.RootElement.EnumerateObject().Select(m => m.Name));
        Assert.Equal(alg, header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(kid, header.RootElement.GetProperty("kid").GetString());
        Assert.Equal("JWT", header.RootElement.GetProperty("typ").GetString());
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
        Assert.Equal("spiffe://a/x", payload.RootElement.GetProperty("sub").GetString());
        Assert.Equal("svc", payload.RootElement.GetProperty("aud").GetString());
        Assert.Equal(kit.Now.AddMinutes(5).ToUnixTimeSeconds(), payload.RootElement.GetProperty("exp").GetInt64());
        Assert.Equal(kit.Now.ToUnixTimeSeconds(), payload.RootElement.GetProperty("iat").GetInt64());

        var svid = kit.Validator().Validate(token, "svc", kit.Bundles);
        Assert.Equal(Subject, svid.Id);
        Assert.Equal(kid, svid.KeyId);
        Assert.Equal(kit.Now, svid.IssuedAt);
    }

    [Theory]
    [Trait("Spec", "JWT-SVID 2")]
    [MemberData(nameof(SigningKeys))]
    public void Mint_EveryAlgorithm_VerifiesWithJose(string kid, string alg)
    {
        var kit = new JwtKit();
        var token = JwtSvid.Mint(Subject, ["svc", "other"], kit.Now.AddMinutes(5), SigningKey(kit, kid, alg), kit.Clock);
        var answer = Jose.Verify(token, kit.BundleA.Authorities, "svc", kit.Now);
        Assert.True(answer["ok"]!.GetValue<bool>(), answer.ToJsonString());
        Assert.Equal("spiffe://a/x", answer["payload"]!["sub"]!.GetValue<string>());
        Assert.Equal(kid, answer["header"]!["kid"]!.GetValue<string>());

        // Control: jose rejects the same token for an audience it does not carry.
        var wrong = Jose.Verify(token, kit.BundleA.Authorities, "nobody", kit.Now);
        Assert.False(wrong["ok"]!.GetValue<bool>());
        Assert.Equal("ERR_JWT_CLAIM_VALIDATION_FAILED", wrong["code"]!.GetValue<string>());

        // Control: jose rejects it once expired.
        var late = Jose.Verify(token, kit.BundleA.Authorities, "svc", kit.Now.AddMinutes(10));
        Assert.Equal("ERR_JWT_EXPIRED", late["code"]!.GetValue<string>());
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3.2")]
    public void Mint_SeveralAudiences_WritesArray()
    {
        var kit = new JwtKit();
        var token = JwtSvid.Mint(Subject, ["svc", "other"], kit.Now.AddMinutes(5), SigningKey(kit, "k1", "ES256"), kit.Clock);
        var svid = kit.Validator().Validate(token, "other", kit.Bundles);
        Assert.Equal(JsonValueKind.Array, svid.Claims.GetProperty("aud").ValueKind);
        Assert.Equal(["svc", "other"], svid.Audience.ToArray());
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3")]
    public void Mint_ExtraClaims_WrittenAfterRegisteredOnes()
    {
        var kit = new JwtKit();
        using var element = JsonDocument.Parse("""{"n":[1,2]}""");
        var extra = new Dictionary<string, object?>
        {
            ["s"] = "v",
            ["b"] = true,
            ["i"] = 7,
            ["l"] = 8L,
            ["d"] = 1.5,
            ["m"] = 2.25m,
            ["t"] = kit.Now.AddSeconds(10),
            ["j"] = element.RootElement,
            ["list"] = new[] { "x", "y" },
            ["nil"] = null,
            ["jti"] = "id-1",
        };
        var token = JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), SigningKey(kit, "k1", "ES256"), kit.Clock, extra);
        var claims = kit.Validator().Validate(token, "svc", kit.Bundles).Claims;
        Assert.Equal(["sub", "aud", "exp", "iat", "s", "b", "i", "l", "d", "m", "t", "j", "list", "nil", "jti"], claims.EnumerateObject().Select(m => m.Name));
        Assert.Equal("v", claims.GetProperty("s").GetString());
        Assert.True(claims.GetProperty("b").GetBoolean());
        Assert.Equal(7, claims.GetProperty("i").GetInt32());
        Assert.Equal(2.25m, claims.GetProperty("m").GetDecimal());
        Assert.Equal(kit.Now.AddSeconds(10).ToUnixTimeSeconds(), claims.GetProperty("t").GetInt64());
        Assert.Equal(2, claims.GetProperty("j").GetProperty("n").GetArrayLength());
        Assert.Equal("y", claims.GetProperty("list")[1].GetString());
        Assert.Equal(JsonValueKind.Null, claims.GetProperty("nil").ValueKind);
    }

    [Theory]
    [InlineData("sub")]
    [InlineData("aud")]
    [InlineData("exp")]
    [InlineData("iat")]
    [InlineData("")]
    public void Mint_ExtraClaimReserved_Throws(string name)
    {
        var kit = new JwtKit();
        var key = SigningKey(kit, "k1", "ES256");
        JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), key, kit.Clock, new Dictionary<string, object?> { ["ok"] = 1 });
        var ex = Assert.Throws<ArgumentException>(() =>
            JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), key, kit.Clock, new Dictionary<string, object?> { [name] = 1 }));
        Assert.StartsWith($"extra claim \"{name}\" is empty or reserved", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mint_ExtraClaimOfUnsupportedType_Throws()
    {
        var kit = new JwtKit();
        var ex = Assert.Throws<ArgumentException>(() => JwtSvid.Mint(
            Subject, ["svc"], kit.Now.AddMinutes(5), SigningKey(kit, "k1", "ES256"), kit.Clock,
            new Dictionary<string, object?> { ["x"] = new object() }));
        Assert.StartsWith("extra claim \"x\" has an unsupported value type Object", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mint_CallerBugs_Throw()
    {
        var kit = new JwtKit();
        var key = SigningKey(kit, "k1", "ES256");
        var exp = kit.Now.AddMinutes(5);
        JwtSvid.Mint(Subject, ["svc"], kit.Now.AddSeconds(1), key, kit.Clock);
        Assert.Throws<ArgumentException>(() => JwtSvid.Mint(default, ["svc"], exp, key, kit.Clock));
        Assert.Throws<ArgumentException>(() => JwtSvid.Mint(Subject, [], exp, key, kit.Clock));
        Assert.Throws<ArgumentException>(() => JwtSvid.Mint(Subject, ["svc", ""], exp, key, kit.Clock));
        Assert.Throws<ArgumentNullException>(() => JwtSvid.Mint(Subject, ["svc"], exp, null!, kit.Clock));
        Assert.Throws<ArgumentOutOfRangeException>(() => JwtSvid.Mint(Subject, ["svc"], kit.Now, key, kit.Clock));
        Assert.Throws<ArgumentOutOfRangeException>(() => JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(-1), key, kit.Clock));
    }

    // ---- JwtSigningKey ------------------------------------------------------------------------

    [Fact]
    [Trait("Spec", "JWT-SVID 2.1")]
    public void SigningKey_EcWithoutAlgorithm_PicksTheCurvesAlgorithm()
    {
        var kit = new JwtKit();
        Assert.Equal("ES256", new JwtSigningKey("a", (ECDsa)kit.Key("k1")).Algorithm);
        Assert.Equal("ES384", new JwtSigningKey("a", (ECDsa)kit.Key("k384")).Algorithm);
        Assert.Equal("ES512", new JwtSigningKey("a", (ECDsa)kit.Key("k521")).Algorithm);
        Assert.Equal("RS256", new JwtSigningKey("a", (RSA)kit.Key("rsa")).Algorithm);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 2.1")]
    public void SigningKey_KeyThatDoesNotFit_Throws()
    {
        var kit = new JwtKit();
        var p256 = (ECDsa)kit.Key("k1");
        var rsa = (RSA)kit.Key("rsa");
        _ = new JwtSigningKey("a", p256, "ES256");
        _ = new JwtSigningKey("a", rsa, "PS512");

        Assert.Equal(
            "algorithm ES384 does not fit a 256-bit EC key; use ES256 (Parameter 'algorithm')",
            Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", p256, "ES384")).Message);
        Assert.Equal(
            "only P-256, P-384 and P-521 keys can sign JWT-SVIDs (Parameter 'key')",
            Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", (ECDsa)kit.Key("k256k1"))).Message);
        Assert.Equal(
            "algorithm \"ES256\" is not an RSA JWT-SVID algorithm (Parameter 'algorithm')",
            Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", rsa, "ES256")).Message);
        Assert.Equal(
            "algorithm \"HS256\" is not an RSA JWT-SVID algorithm (Parameter 'algorithm')",
            Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", rsa, "HS256")).Message);
        Assert.Equal(
            "RSA key has 1024 bits; at least 2048 are required (Parameter 'key')",
            Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", (RSA)kit.Key("rsa1024"))).Message);
        Assert.Throws<ArgumentException>(() => new JwtSigningKey("", p256));
    }

    [Fact]
    public void SigningKey_PublicKeyOnly_Throws()
    {
        var kit = new JwtKit();
        using var publicOnly = ECDsa.Create();
        publicOnly.ImportSubjectPublicKeyInfo(kit.Key("k1").ExportSubjectPublicKeyInfo(), out _);
        var ex = Assert.Throws<ArgumentException>(() => new JwtSigningKey("a", publicOnly));
        Assert.Equal("key has no private part (Parameter 'key')", ex.Message);
        _ = new JwtSigningKey("a", (ECDsa)kit.Key("k1"));
    }

    [Fact]
    public void SigningKey_ToAuthorityAndToString_ExposeOnlyPublicFacts()
    {
        var kit = new JwtKit();
        var key = new JwtSigningKey("kid-1", (ECDsa)kit.Key("k1"));
        Assert.Equal("ES256 key \"kid-1\"", key.ToString());
        var authority = key.ToAuthority();
        Assert.Equal("kid-1", authority.KeyId);
        Assert.True(authority.SubjectPublicKeyInfo.Span.SequenceEqual(kit.Key("k1").ExportSubjectPublicKeyInfo()));
    }

    // ---- ParseInsecure -----------------------------------------------------------------------

    [Fact]
    [Trait("Spec", "JWT-SVID 3")]
    public void ParseInsecure_ForgedSignature_StillParsesButChecksClaims()
    {
        var kit = new JwtKit();
        var forged = kit.Token(signer: ECDsa.Create(ECCurve.NamedCurves.nistP256));
        JwtSvidValidatorTests.AssertRejected(kit, forged, "token signature does not verify");
        var svid = JwtSvid.ParseInsecure(forged, "svc", kit.Clock);
        Assert.Equal(Subject, svid.Id);

        Assert.Equal("token aud does not contain \"other\"",
            Assert.Throws<SvidValidationException>(() => JwtSvid.ParseInsecure(forged, "other", kit.Clock)).Message);
        Assert.Equal("token alg \"none\" is not allowed",
            Assert.Throws<SvidValidationException>(() => JwtSvid.ParseInsecure(kit.Token(headerJson: """{"alg":"none"}"""), "svc", kit.Clock)).Message);
        kit.Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal("token has expired",
            Assert.Throws<SvidValidationException>(() => JwtSvid.ParseInsecure(forged, "svc", kit.Clock)).Message);
    }

    [Fact]
    public void ToString_NeverContainsTheToken()
    {
        var kit = new JwtKit();
        var token = JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), SigningKey(kit, "k1", "ES256"), kit.Clock);
        var svid = kit.Validator().Validate(token, "svc", kit.Bundles).WithHint("external");
        Assert.Equal("spiffe://a/x aud=[svc] exp=2026-01-01T00:05:00.0000000+00:00", svid.ToString());
        Assert.Equal("external", svid.Hint);
        Assert.Equal(token, svid.Token);
        Assert.DoesNotContain(token.Split('.')[2], svid.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Mint_WithKeyOfOtherTrustDomain_DoesNotValidate()
    {
        // b's key mints a token for a's workload: a's bundle never contains kb.
        var kit = new JwtKit();
        var kb = new JwtSigningKey("kb", (ECDsa)kit.Key("kb"));
        var ok = JwtSvid.Mint(SpiffeId.Parse("spiffe://b/x"), ["svc"], kit.Now.AddMinutes(5), kb, kit.Clock);
        Assert.Equal("spiffe://b/x", kit.Validator().Validate(ok, "svc", kit.Bundles).Id.ToString());
        var forged = JwtSvid.Mint(Subject, ["svc"], kit.Now.AddMinutes(5), kb, kit.Clock);
        JwtSvidValidatorTests.AssertRejected(kit, forged, "token kid \"kb\" is not in the bundle of trust domain \"a\"");
        var onlyB = BundleSet.Empty.With(kit.BundleB);
        Assert.Equal("no jwt bundle for trust domain \"a\"",
            Assert.Throws<BundleNotFoundException>(() => kit.Validator().Validate(forged, "svc", onlyB)).Message);
    }

    private static JwtSigningKey SigningKey(JwtKit kit, string kid, string alg) =>
        kit.Key(kid) is ECDsa ec ? new JwtSigningKey(kid, ec, alg) : new JwtSigningKey(kid, (RSA)kit.Key(kid), alg);

    [Fact]
    public void Mint_SigningInputIsAscii()
    {
        var kit = new JwtKit();
        var token = JwtSvid.Mint(SpiffeId.Parse("spiffe://a/x"), ["sv\u00e9"], kit.Now.AddMinutes(5), SigningKey(kit, "k1", "ES256"), kit.Clock);
        Assert.All(token, c => Assert.True(c < 128));
        Assert.Equal("sv\u00e9", kit.Validator().Validate(token, "sv\u00e9", kit.Bundles).Audience[0]);
    }
}
