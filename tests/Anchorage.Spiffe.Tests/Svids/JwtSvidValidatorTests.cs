using System.Buffers.Text;
using System.Diagnostics;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Spiffe.Tests.Svids;

public sealed class JwtSvidValidatorTests
{
    private const string Audience = "svc";

    // ---- JWT-SVID §5.1: compact serialization, size -------------------------------------

    public static TheoryData<string, string> SerializationCases => new()
    {
        { "two-parts", "token must have three dot-separated parts" },
        { "four-parts", "token must have three dot-separated parts" },
        { "jwe-five-parts", "token is encrypted (jwe); only signed tokens (jws) are allowed" },
        { "json-serialization", "token uses the jws json serialization; only the compact serialization is allowed" },
        { "json-serialization-flattened-with-dots", "token uses the jws json serialization; only the compact serialization is allowed" },
        { "padded-payload", "token payload is not base64url" },
        { "padded-signature", "token signature is not base64url" },
        { "standard-base64-header", "token header is not base64url" },
        { "whitespace-inside", "token payload is not base64url" },
        { "empty-header", "token header is not base64url" },
        { "empty-signature", "token signature is not base64url" },
        { "non-canonical-signature", "token signature is not base64url" },
        { "oversized", "token is longer than 16384 characters" },
        { "oversized-json", "token is longer than 16384 characters" },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 5.1")]
    [MemberData(nameof(SerializationCases))]
    public void Validate_SerializationDefect_RejectedAndControlPasses(string defect, string message)
    {
        var kit = new JwtKit();
        var good = kit.Token();
        kit.Validator().Validate(good, Audience, kit.Bundles); // positive control on the same fixture
        var parts = good.Split('.');
        var bad = defect switch
        {
            "two-parts" => parts[0] + "." + parts[1],
            "four-parts" => good + "." + parts[2],
            "jwe-five-parts" => string.Join('.', parts[0], "", parts[1], "", parts[2]),
            "json-serialization" => $"{{\"payload\":\"{parts[1]}\",\"protected\":\"{parts[0]}\",\"signature\":\"{parts[2]}\"}}",
            "json-serialization-flattened-with-dots" => $" {{\"payload\":\"{parts[1]}.x\",\"signatures\":[]}}",
            "padded-payload" => parts[0] + "." + parts[1] + "==." + parts[2],
            "padded-signature" => parts[0] + "." + parts[1] + "." + parts[2] + "==",
            "standard-base64-header" => parts[0] + "+/." + parts[1] + "." + parts[2],
            "whitespace-inside" => parts[0] + "." + parts[1][..5] + " " + parts[1][5..] + "." + parts[2],
            "empty-header" => "." + parts[1] + "." + parts[2],
            "empty-signature" => parts[0] + "." + parts[1] + ".",
            "non-canonical-signature" => parts[0] + "." + parts[1] + "." + JwtKit.NonCanonical(parts[2]),
            "oversized" => kit.Token(payload: p => p["pad"] = new string('x', 13000)),
            "oversized-json" => "{" + new string(' ', 20000) + "}",
            _ => throw new ArgumentOutOfRangeException(nameof(defect)),
        };
        AssertRejected(kit, bad, message);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 5.1")]
    public void Validate_TokenJustUnderSizeLimit_Passes()
    {
        var kit = new JwtKit();
        var token = kit.Token(payload: p => p["pad"] = new string('x', 11000));
        Assert.InRange(token.Length, 14000, JwtSvidValidator.MaxTokenLength);
        Assert.Equal(kit.Id, kit.Validator().Validate(token, Audience, kit.Bundles).Id);
    }

    // ---- JWT-SVID §2, §2.1, §2.2, §2.3: the JOSE header ---------------------------------

    public static TheoryData<string, string, string, string> HeaderCases => new()
    {
        // spec, bad header, good header (same fixture with the defect off), message
        { "JWT-SVID 2.1", """{"alg":"none","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"none\" is not allowed" },
        { "JWT-SVID 2.1", """{"alg":"HS256","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"HS256\" is not allowed" },
        { "JWT-SVID 2.1", """{"alg":"es256","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"es256\" is not allowed" },
        { "JWT-SVID 2.1", """{"alg":"ES256K","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"ES256K\" is not allowed" },
        { "JWT-SVID 2.1", """{"alg":"EdDSA","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"EdDSA\" is not allowed" },
        { "JWT-SVID 2.1", """{"kid":"k1"}""", """{"kid":"k1","alg":"ES256"}""", "token header has no alg" },
        { "JWT-SVID 2.1", """{"alg":256,"kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token alg must be a string" },
        { "JWT-SVID 2.1", """{"alg":"HS256","crit":["b64"],"b64":false,"jku":"x"}""", """{"alg":"ES256","kid":"k1"}""", "token alg \"HS256\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","crit":["exp"],"exp":1}""", """{"alg":"ES256","kid":"k1"}""", "token header has crit; no extension is understood" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","crit":[]}""", """{"alg":"ES256","kid":"k1"}""", "token header has crit; no extension is understood" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","jku":"https://evil.example/jwks"}""", """{"alg":"ES256","kid":"k1"}""", "token header \"jku\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","jwk":{"kty":"EC"}}""", """{"alg":"ES256","kid":"k1"}""", "token header \"jwk\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","x5c":["MIIB"]}""", """{"alg":"ES256","kid":"k1"}""", "token header \"x5c\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","cty":"JWT"}""", """{"alg":"ES256","kid":"k1"}""", "token header \"cty\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","private":1}""", """{"alg":"ES256","kid":"k1"}""", "token header \"private\" is not allowed" },
        { "JWT-SVID 2", """{"alg":"ES256","alg":"ES256","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "token header repeats member \"alg\"" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1","\u006bid":"k1"}""", """{"alg":"ES256","\u006bid":"k1"}""", "token header repeats member \"kid\"" },
        { "JWT-SVID 2", """["ES256"]""", """{"alg":"ES256","kid":"k1"}""", "token header is not a json object" },
        { "JWT-SVID 2", "{\"alg\":\"ES256\",\"kid\":\"k1\"", """{"alg":"ES256","kid":"k1"}""", "token header is not valid json" },
        { "JWT-SVID 2", """{"alg":"ES256","kid":"k1"} {}""", """{"alg":"ES256","kid":"k1"} """, "token header is not valid json" },
        { "JWT-SVID 2.2", """{"alg":"ES256","kid":""}""", """{"alg":"ES256"}""", "token kid must be a non-empty string" },
        { "JWT-SVID 2.2", """{"alg":"ES256","kid":1}""", """{"alg":"ES256","kid":"k1"}""", "token kid must be a non-empty string" },
        { "JWT-SVID 2.3", """{"alg":"ES256","kid":"k1","typ":"at+jwt"}""", """{"alg":"ES256","kid":"k1","typ":"JWT"}""", "token typ \"at+jwt\" is not allowed; use JWT or JOSE" },
        { "JWT-SVID 2.3", """{"alg":"ES256","kid":"k1","typ":"jwt"}""", """{"alg":"ES256","kid":"k1","typ":"JOSE"}""", "token typ \"jwt\" is not allowed; use JWT or JOSE" },
        { "JWT-SVID 2.3", """{"alg":"ES256","kid":"k1","typ":null}""", """{"alg":"ES256","kid":"k1"}""", "token typ must be a string" },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 2")]
    [MemberData(nameof(HeaderCases))]
    public void Validate_HeaderDefect_RejectedAndControlPasses(string spec, string badHeader, string goodHeader, string message)
    {
        Assert.StartsWith("JWT-SVID 2", spec, StringComparison.Ordinal);
        var kit = new JwtKit();
        var good = kit.Token(headerJson: goodHeader);
        Assert.Equal(kit.Id, kit.Validator().Validate(good, Audience, kit.Bundles).Id);
        AssertRejected(kit, kit.Token(headerJson: badHeader), message);
    }

    [Theory]
    [Trait("Spec", "JWT-SVID 2.1")]
    [InlineData("none")]
    [InlineData("HS256")]
    public void Validate_DisallowedAlg_RejectedBeforeBundleLookup(string alg)
    {
        // alg is decided before anything else: even a token whose trust domain has no bundle
        // and whose payload is garbage is reported for its alg.
        var kit = new JwtKit();
        var token = JwtKit.B64(Encoding.UTF8.GetBytes($"{{\"alg\":\"{alg}\"}}")) + ".bm90LWpzb24." + JwtKit.B64([1, 2, 3]);
        AssertRejected(kit, token, $"token alg \"{alg}\" is not allowed");
        AssertRejected(kit, token.Split('.')[0] + "." + JwtKit.B64("{}"u8.ToArray()) + ".", $"token alg \"{alg}\" is not allowed");
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 2.1")]
    public void Validate_HmacSignedWithPublicKeyBytes_Rejected()
    {
        // The classic algorithm-confusion attack: HS256 keyed with the public key's bytes.
        var kit = new JwtKit();
        var header = JwtKit.B64("""{"alg":"HS256","kid":"k1"}"""u8.ToArray());
        var payload = JwtKit.B64(Encoding.UTF8.GetBytes(kit.Payload().ToJsonString()));
        var mac = HMACSHA256.HashData(kit.Ec256.ExportSubjectPublicKeyInfo(), Encoding.ASCII.GetBytes(header + "." + payload));
        AssertRejected(kit, header + "." + payload + "." + JwtKit.B64(mac), "token alg \"HS256\" is not allowed");
    }

    // ---- JWT-SVID §3: claims ---------------------------------------------------------------

    public static TheoryData<string, string, string, string> ClaimCases => new()
    {
        // spec, claim edit on the bad token, claim edit on the control, message
        { "JWT-SVID 3.1", "remove:sub", "set:sub=\"spiffe://a/x\"", "token has no sub" },
        { "JWT-SVID 3.1", "set:sub=42", "set:sub=\"spiffe://a/x\"", "token sub must be a string" },
        { "JWT-SVID 3.1", "set:sub=\"https://a/x\"", "set:sub=\"spiffe://a/x\"", "token sub is not a spiffe id: scheme must be \"spiffe\" followed by \"://\"" },
        { "JWT-SVID 3.1", "set:sub=\"\"", "set:sub=\"spiffe://a/x\"", "token sub is not a spiffe id: spiffe id is empty" },
        { "JWT-SVID 3.2", "remove:aud", "set:aud=\"svc\"", "token has no aud" },
        { "JWT-SVID 3.2", "set:aud=[]", "set:aud=[\"svc\"]", "token aud is empty" },
        { "JWT-SVID 3.2", "set:aud=7", "set:aud=\"svc\"", "token aud must be a string or an array of strings" },
        { "JWT-SVID 3.2", "set:aud=[\"svc\",7]", "set:aud=[\"svc\",\"7\"]", "token aud must be a string or an array of strings" },
        { "JWT-SVID 3.2", "set:aud=null", "set:aud=\"svc\"", "token aud must be a string or an array of strings" },
        { "JWT-SVID 3.3", "remove:exp", "set:exp=NOW+300", "token has no exp" },
        { "JWT-SVID 3.3", "set:exp=\"NOW+300\"", "set:exp=NOW+300", "token exp must be a numeric date" },
        { "JWT-SVID 3.3", "set:exp=null", "set:exp=NOW+300", "token exp must be a numeric date" },
        { "JWT-SVID 3.3", "set:nbf=\"0\"", "set:nbf=0", "token nbf must be a numeric date" },
        { "JWT-SVID 3.3", "set:iat=true", "set:iat=NOW", "token iat must be a numeric date" },
        { "JWT-SVID 3", "dup:sub", "set:sub=\"spiffe://a/x\"", "token payload repeats claim \"sub\"" },
        { "JWT-SVID 3", "dup:exp", "set:exp=NOW+300", "token payload repeats claim \"exp\"" },
        { "JWT-SVID 3", "nested-dup", "set:ext={\"a\":1,\"b\":1}", "token payload repeats a member inside a claim" },
        { "JWT-SVID 3", "raw:[1,2]", "set:ext=[1,2]", "token payload is not a json object" },
        { "JWT-SVID 3", "raw:{\"sub\":", "set:ext=null", "token payload is not valid json" },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 3")]
    [MemberData(nameof(ClaimCases))]
    public void Validate_ClaimDefect_RejectedAndControlPasses(string spec, string badEdit, string goodEdit, string message)
    {
        Assert.StartsWith("JWT-SVID 3", spec, StringComparison.Ordinal);
        var kit = new JwtKit();
        var good = kit.Token(payloadJson: kit.EditPayload(goodEdit));
        Assert.Equal(kit.Id, kit.Validator().Validate(good, Audience, kit.Bundles).Id);
        AssertRejected(kit, kit.Token(payloadJson: kit.EditPayload(badEdit)), message);
    }

    [Theory]
    [Trait("Spec", "JWT-SVID 3.2")]
    [InlineData("\"other\"", "\"svc\"")]
    [InlineData("[\"other\",\"more\"]", "[\"other\",\"svc\"]")]
    [InlineData("\"SVC\"", "\"svc\"")]
    [InlineData("\"svc \"", "[\"svc\"]")]
    public void Validate_AudienceWithoutValidatorAudience_Rejected(string badAud, string goodAud)
    {
        var kit = new JwtKit();
        var good = kit.Validator().Validate(kit.Token(payloadJson: kit.EditPayload("set:aud=" + goodAud)), Audience, kit.Bundles);
        Assert.Contains(Audience, good.Audience);
        AssertRejected(kit, kit.Token(payloadJson: kit.EditPayload("set:aud=" + badAud)), "token aud does not contain \"svc\"");
    }

    // ---- JWT-SVID §3.3, RFC 7519 §4.1.4-4.1.6: time, with leeway -------------------------

    public static TheoryData<string, string?> TimeCases => new()
    {
        // claim edit, expected message (null = passes); default leeway 30 s
        { "set:exp=NOW-31", "token has expired" },
        { "set:exp=NOW-30", "token has expired" },
        { "set:exp=NOW-29", null },
        { "set:exp=NOW+1", null },
        { "set:exp=NOW-29.5", null },
        { "set:exp=NOW-30.5", "token has expired" },
        { "set:exp=1e300", null },
        { "set:exp=-1e300", "token has expired" },
        { "set:nbf=NOW+31", "token is not yet valid" },
        { "set:nbf=NOW+30", null },
        { "set:nbf=NOW", null },
        { "set:iat=NOW+31", "token was issued in the future" },
        { "set:iat=NOW+29", null },
        { "remove:iat", null },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 3.3")]
    [MemberData(nameof(TimeCases))]
    public void Validate_TimeClaims_HonouredWithLeeway(string edit, string? message)
    {
        var kit = new JwtKit();
        var token = kit.Token(payloadJson: kit.EditPayload(edit));
        if (message is null)
        {
            Assert.Equal(kit.Id, kit.Validator().Validate(token, Audience, kit.Bundles).Id);
        }
        else
        {
            AssertRejected(kit, token, message);
        }
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3.3")]
    public void Validate_ClockAdvancesPastExpiry_Rejected()
    {
        var kit = new JwtKit();
        var token = kit.Token();
        var validator = kit.Validator();
        var svid = validator.Validate(token, Audience, kit.Bundles);
        Assert.Equal(kit.Now.AddSeconds(300), svid.Expiry);
        kit.Clock.Advance(TimeSpan.FromSeconds(329));
        validator.Validate(token, Audience, kit.Bundles);
        kit.Clock.Advance(TimeSpan.FromSeconds(1));
        var ex = Assert.Throws<SvidValidationException>(() => validator.Validate(token, Audience, kit.Bundles));
        Assert.Equal("token has expired", ex.Message);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 3.3")]
    public void Validate_ZeroLeeway_ExpiryIsExclusive()
    {
        var kit = new JwtKit();
        var validator = new JwtSvidValidator(kit.Clock, TimeSpan.Zero);
        validator.Validate(kit.Token(payloadJson: kit.EditPayload("set:exp=NOW+1")), Audience, kit.Bundles);
        var ex = Assert.Throws<SvidValidationException>(() =>
            validator.Validate(kit.Token(payloadJson: kit.EditPayload("set:exp=NOW")), Audience, kit.Bundles));
        Assert.Equal("token has expired", ex.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(301)]
    public void Constructor_LeewayOutOfRange_Throws(int seconds)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new JwtSvidValidator(null, TimeSpan.FromSeconds(seconds)));
        Assert.Equal(TimeSpan.FromSeconds(30), new JwtSvidValidator().Leeway);
        Assert.Equal(TimeSpan.FromMinutes(5), new JwtSvidValidator(null, TimeSpan.FromMinutes(5)).Leeway);
    }

    [Fact]
    public void Validate_CallerBugs_ThrowArgumentExceptions()
    {
        var kit = new JwtKit();
        var validator = kit.Validator();
        Assert.Throws<ArgumentNullException>(() => validator.Validate(null!, Audience, kit.Bundles));
        Assert.Throws<ArgumentException>(() => validator.Validate(kit.Token(), "", kit.Bundles));
        Assert.Throws<ArgumentNullException>(() => validator.Validate(kit.Token(), Audience, null!));
    }

    // ---- JWT-SVID §4: key selection from the subject's own trust domain only -------------

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Validate_NoBundleForSubjectTrustDomain_ThrowsBundleNotFound()
    {
        var kit = new JwtKit();
        kit.Validator().Validate(kit.Token(), Audience, kit.Bundles);
        var token = kit.Token(payloadJson: kit.EditPayload("set:sub=\"spiffe://c/x\""));
        var ex = Assert.Throws<BundleNotFoundException>(() => kit.Validator().Validate(token, Audience, kit.Bundles));
        Assert.Equal("no jwt bundle for trust domain \"c\"", ex.Message);
        Assert.Equal(TrustDomain.Parse("c"), ex.TrustDomain);
    }

    [Theory]
    [Trait("Spec", "JWT-SVID 4")]
    [InlineData(true, "token kid \"k1\" is not in the bundle of trust domain \"b\"")]
    [InlineData(false, "token signature does not verify")]
    public void Validate_SubjectOfOtherTrustDomainSignedByFederatedKey_Rejected(bool withKid, string message)
    {
        // a's key signs a token for spiffe://b/x; a's bundle is in the set, yet only b's keys count.
        var kit = new JwtKit();
        var header = withKid ? """{"alg":"ES256","kid":"k1"}""" : """{"alg":"ES256"}""";
        var control = kit.Token(headerJson: header);
        Assert.Equal(kit.Id, kit.Validator().Validate(control, Audience, kit.Bundles).Id);
        var forged = kit.Token(headerJson: header, payloadJson: kit.EditPayload("set:sub=\"spiffe://b/x\""));
        AssertRejected(kit, forged, message);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Validate_SourceReturnsBundleOfAnotherTrustDomain_ThrowsBundleNotFound()
    {
        var kit = new JwtKit();
        var lying = new LyingSource(kit.BundleA);
        var token = kit.Token(payloadJson: kit.EditPayload("set:sub=\"spiffe://b/x\""));
        var ex = Assert.Throws<BundleNotFoundException>(() => kit.Validator().Validate(token, Audience, lying));
        Assert.Equal("no jwt bundle for trust domain \"b\"", ex.Message);
        Assert.Equal(kit.Id, kit.Validator().Validate(kit.Token(), Audience, lying).Id);
    }

    public static TheoryData<string, string, string> KeySelectionCases => new()
    {
        // bad header, control header (both signed by the key the header's kid/alg call for), message
        { """{"alg":"ES256","kid":"unknown"}""", """{"alg":"ES256","kid":"k1"}""", "token kid \"unknown\" is not in the bundle of trust domain \"a\"" },
        { """{"alg":"ES384","kid":"k1"}""", """{"alg":"ES384","kid":"k384"}""", "key \"k1\" does not fit alg ES384" },
        { """{"alg":"ES256","kid":"k384"}""", """{"alg":"ES256","kid":"k1"}""", "key \"k384\" does not fit alg ES256" },
        { """{"alg":"ES256","kid":"rsa"}""", """{"alg":"RS256","kid":"rsa"}""", "key \"rsa\" does not fit alg ES256" },
        { """{"alg":"RS256","kid":"k1"}""", """{"alg":"ES256","kid":"k1"}""", "key \"k1\" does not fit alg RS256" },
        { """{"alg":"ES256","kid":"k256k1"}""", """{"alg":"ES256","kid":"k1"}""", "key \"k256k1\" does not fit alg ES256" },
        { """{"alg":"RS256","kid":"rsa1024"}""", """{"alg":"RS256","kid":"rsa"}""", "key \"rsa1024\" is a 1024-bit rsa key; at least 2048 bits are required" },
        { """{"alg":"PS256","kid":"rsa1024"}""", """{"alg":"PS256","kid":"rsa"}""", "key \"rsa1024\" is a 1024-bit rsa key; at least 2048 bits are required" },
    };

    [Theory]
    [Trait("Spec", "JWT-SVID 4")]
    [MemberData(nameof(KeySelectionCases))]
    public void Validate_KeySelectionDefect_RejectedAndControlPasses(string badHeader, string goodHeader, string message)
    {
        var kit = new JwtKit();
        Assert.Equal(kit.Id, kit.Validator().Validate(kit.Token(headerJson: goodHeader), Audience, kit.Bundles).Id);
        AssertRejected(kit, kit.Token(headerJson: badHeader), message);
    }

    [Theory]
    [Trait("Spec", "JWT-SVID 4")]
    [InlineData("k1", "ES256")]
    [InlineData("k384", "ES384")]
    [InlineData("k521", "ES512")]
    [InlineData("rsa", "RS256")]
    [InlineData("rsa", "RS384")]
    [InlineData("rsa", "RS512")]
    [InlineData("rsa", "PS256")]
    [InlineData("rsa", "PS384")]
    [InlineData("rsa", "PS512")]
    public void Validate_WithoutKid_TriesEveryAuthorityOfTheTrustDomain(string signer, string alg)
    {
        // The bundle holds keys of several kinds; the token names none of them.
        var kit = new JwtKit();
        var token = kit.Token(headerJson: $"{{\"alg\":\"{alg}\"}}", signerKid: signer);
        var svid = kit.Validator().Validate(token, Audience, kit.Bundles);
        Assert.Null(svid.KeyId);
        AssertRejected(kit, JwtKit.Tamper(token), "token signature does not verify");
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Validate_WithoutKidAgainstEmptyBundle_Rejected()
    {
        var kit = new JwtKit();
        var empty = BundleSet.Empty.With(new JwtBundle(TrustDomain.Parse("a"), []));
        var token = kit.Token(headerJson: """{"alg":"ES256"}""");
        kit.Validator().Validate(token, Audience, kit.Bundles);
        var ex = Assert.Throws<SvidValidationException>(() => kit.Validator().Validate(token, Audience, empty));
        Assert.Equal("no key of trust domain \"a\" fits alg ES256", ex.Message);
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Validate_WithoutKidNoKeyFitsAlg_Rejected()
    {
        // Trust domain b has one P-256 key: an ES384 token without kid has nothing to try.
        var kit = new JwtKit();
        var control = kit.Token(headerJson: """{"alg":"ES256"}""", payloadJson: kit.EditPayload("set:sub=\"spiffe://b/x\""), signerKid: "kb");
        Assert.Equal("spiffe://b/x", kit.Validator().Validate(control, Audience, kit.Bundles).Id.ToString());
        var bad = kit.Token(headerJson: """{"alg":"ES384"}""", payloadJson: kit.EditPayload("set:sub=\"spiffe://b/x\""), signerKid: "k384");
        AssertRejected(kit, bad, "no key of trust domain \"b\" fits alg ES384");
    }

    // ---- RFC 7515 §5.2, RFC 7518 §3.3-3.5: signatures -------------------------------------

    [Theory]
    [Trait("Spec", "JWT-SVID 4")]
    [InlineData("tampered-payload")]
    [InlineData("tampered-header-typ")]
    [InlineData("signature-of-other-token")]
    [InlineData("ecdsa-der-signature")]
    [InlineData("ecdsa-truncated")]
    [InlineData("ecdsa-high-s-zero")]
    [InlineData("rs256-signed-labelled-ps256")]
    [InlineData("signed-by-other-key-same-kid")]
    public void Validate_BadSignature_Rejected(string defect)
    {
        var kit = new JwtKit();
        var good = kit.Token();
        kit.Validator().Validate(good, Audience, kit.Bundles);
        var p = good.Split('.');
        var bad = defect switch
        {
            "tampered-payload" => JwtKit.Tamper(good),
            "tampered-header-typ" => JwtKit.B64("""{"alg":"ES256","kid":"k1","typ":"JWT"}"""u8.ToArray()) + "." + p[1] + "." + p[2],
            "signature-of-other-token" => p[0] + "." + p[1] + "." + kit.Token(payloadJson: kit.EditPayload("set:ext=1")).Split('.')[2],
            "ecdsa-der-signature" => p[0] + "." + p[1] + "." + JwtKit.B64(JwtKit.P1363ToDer(Base64Url.DecodeFromChars(p[2]))),
            "ecdsa-truncated" => p[0] + "." + p[1] + "." + JwtKit.B64(Base64Url.DecodeFromChars(p[2])[..63]),
            "ecdsa-high-s-zero" => p[0] + "." + p[1] + "." + JwtKit.B64(new byte[64]),
            "rs256-signed-labelled-ps256" => JwtKit.Relabel(kit.Token(headerJson: """{"alg":"RS256","kid":"rsa"}"""), """{"alg":"PS256","kid":"rsa"}"""),
            "signed-by-other-key-same-kid" => kit.Token(signer: ECDsa.Create(ECCurve.NamedCurves.nistP256)),
            _ => throw new ArgumentOutOfRangeException(nameof(defect)),
        };
        AssertRejected(kit, bad, "token signature does not verify");
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 4")]
    public void Validate_ValidToken_ExposesEveryField()
    {
        var kit = new JwtKit();
        var token = kit.Token(
            headerJson: """{"typ":"JWT","kid":"k1","alg":"ES256"}""",
            payloadJson: kit.EditPayload("set:aud=[\"svc\",\"other\"]", "set:nbf=NOW-5", "set:ext={\"k\":[1,2]}"));
        var svid = kit.Validator().Validate(token, Audience, kit.Bundles);
        Assert.Equal(SpiffeId.Parse("spiffe://a/x"), svid.Id);
        Assert.Equal(["svc", "other"], svid.Audience.ToArray());
        Assert.Equal(kit.Now.AddSeconds(300), svid.Expiry);
        Assert.Equal(kit.Now, svid.IssuedAt);
        Assert.Equal(kit.Now.AddSeconds(-5), svid.NotBefore);
        Assert.Equal("k1", svid.KeyId);
        Assert.Equal(token, svid.Token);
        Assert.Null(svid.Hint);
        Assert.Equal(2, svid.Claims.GetProperty("ext").GetProperty("k").GetArrayLength());
        Assert.Equal("spiffe://a/x", svid.Claims.GetProperty("sub").GetString());
        Assert.Equal("h", svid.WithHint("h").Hint);
        Assert.DoesNotContain(token, svid.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_ConcurrentCallsOnOneValidator_AllSucceed()
    {
        var kit = new JwtKit();
        var validator = kit.Validator();
        string[] tokens =
        [
            kit.Token(),
            kit.Token(headerJson: """{"alg":"RS256","kid":"rsa"}"""),
            kit.Token(headerJson: """{"alg":"PS256"}""", signerKid: "rsa"),
            kit.Token(headerJson: """{"alg":"ES384"}""", signerKid: "k384"),
        ];
        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            for (var n = 0; n < 100; n++)
            {
                Assert.Equal(kit.Id, validator.Validate(tokens[(i + n) % tokens.Length], Audience, kit.Bundles).Id);
            }
        }));
        await Task.WhenAll(tasks);
    }

    // ---- Independent producer: the openssl CLI ---------------------------------------------

    [Theory]
    [Trait("Spec", "JWT-SVID 2.1")]
    [InlineData("ES256", null)]
    [InlineData("ES384", null)]
    [InlineData("ES512", null)]
    [InlineData("RS256", null)]
    [InlineData("RS512", null)]
    [InlineData("PS256", null)]
    [InlineData("PS384", null)]
    [InlineData("PS256", "pss-salt-0")]
    [InlineData("PS256", "pss-salt-max")]
    [InlineData("ES256", "ecdsa-der-unconverted")]
    public void Validate_TokenSignedByOpensslCli_VerifiesOnlyWhenEncodedPerRfc7518(string alg, string? defect)
    {
        using var dir = new TempDir();
        var keyPath = Path.Combine(dir.Path, "key.pem");
        var genArgs = alg[..2] == "ES"
            ? new[] { "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + alg switch { "ES256" => "P-256", "ES384" => "P-384", _ => "P-521" }, "-out", keyPath }
            : new[] { "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath };
        Processes.Run("openssl", genArgs);
        var pubPath = Path.Combine(dir.Path, "pub.pem");
        Processes.Run("openssl", "pkey", "-in", keyPath, "-pubout", "-out", pubPath);

        var kit = new JwtKit();
        var signingInput = JwtKit.B64(Encoding.UTF8.GetBytes($"{{\"alg\":\"{alg}\",\"kid\":\"ossl\",\"typ\":\"JWT\"}}")) + "." +
            JwtKit.B64(Encoding.UTF8.GetBytes(kit.Payload().ToJsonString()));
        var inputPath = Path.Combine(dir.Path, "input");
        File.WriteAllText(inputPath, signingInput);
        var sigPath = Path.Combine(dir.Path, "sig");
        var args = new List<string> { "dgst", "-sha" + alg[2..], "-sign", keyPath, "-out", sigPath };
        if (alg[..2] == "PS")
        {
            var salt = defect switch { "pss-salt-0" => "0", "pss-salt-max" => "max", _ => "digest" };
            args.AddRange(["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:" + salt]);
        }

        args.Add(inputPath);
        Processes.Run("openssl", [.. args]);
        var signature = File.ReadAllBytes(sigPath);
        if (alg[..2] == "ES" && defect is null)
        {
            signature = JwtKit.DerToP1363(signature, alg switch { "ES256" => 32, "ES384" => 48, _ => 66 });
        }

        var token = signingInput + "." + JwtKit.B64(signature);
        using var publicKey = alg[..2] == "ES" ? (AsymmetricAlgorithm)ECDsa.Create() : RSA.Create();
        publicKey.ImportFromPem(File.ReadAllText(pubPath));
        var bundles = BundleSet.Empty.With(new JwtBundle(TrustDomain.Parse("a"), [JwtAuthority.FromKey("ossl", publicKey)]));
        if (defect is null)
        {
            Assert.Equal(kit.Id, kit.Validator().Validate(token, Audience, bundles).Id);
        }
        else
        {
            var ex = Assert.Throws<SvidValidationException>(() => kit.Validator().Validate(token, Audience, bundles));
            Assert.Equal("token signature does not verify", ex.Message);
        }
    }

    // ---- Independent producer and consumer: npm's jose ------------------------------------

    [Theory]
    [Trait("Spec", "JWT-SVID 2.1")]
    [InlineData("ES256", "k1")]
    [InlineData("ES256", null)]
    [InlineData("ES384", "k384")]
    [InlineData("RS256", "rsa")]
    [InlineData("PS256", "rsa")]
    [InlineData("PS256", null)]
    public void Validate_TokenMintedByJose_Verifies(string alg, string? kid)
    {
        var kit = new JwtKit();
        var signerKid = kid ?? alg switch { "ES256" => "k1", "ES384" => "k384", _ => "rsa" };
        var token = Jose.Mint(alg, kid, kit.Key(signerKid), kit.Payload());
        var svid = kit.Validator().Validate(token, Audience, kit.Bundles);
        Assert.Equal(kit.Id, svid.Id);
        Assert.Equal(kid, svid.KeyId);

        // The same producer, one claim off: our validator reports it.
        var other = Jose.Mint(alg, kid, kit.Key(signerKid), kit.Payload("set:aud=\"elsewhere\""));
        AssertRejected(kit, other, "token aud does not contain \"svc\"");
    }

    [Fact]
    [Trait("Spec", "JWT-SVID 2")]
    public void Validate_JoseTokenWithExtraHeader_Rejected()
    {
        var kit = new JwtKit();
        var control = Jose.Mint("ES256", "k1", kit.Key("k1"), kit.Payload(), typ: "JWT");
        kit.Validator().Validate(control, Audience, kit.Bundles);
        var bad = Jose.Mint("ES256", "k1", kit.Key("k1"), kit.Payload(), typ: "secevent+jwt");
        AssertRejected(kit, bad, "token typ \"secevent+jwt\" is not allowed; use JWT or JOSE");
    }

    internal static void AssertRejected(JwtKit kit, string token, string message)
    {
        var ex = Assert.Throws<SvidValidationException>(() => kit.Validator().Validate(token, Audience, kit.Bundles));
        Assert.Equal(message, ex.Message);
    }

    private sealed class LyingSource(JwtBundle bundle) : IJwtBundleSource
    {
        public bool TryGetJwtBundle(TrustDomain trustDomain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out JwtBundle? result)
        {
            result = bundle;
            return true;
        }
    }
}

/// <summary>
/// Shared JWT fixtures: trust domain a (keys k1 P-256, k384, k521, rsa 2048, rsa1024, k256k1
/// secp256k1) and trust domain b (kb P-256), a fake clock, and a raw signer independent of
/// <see cref="JwtSvid.Mint"/> so that any header or payload can be signed.
/// </summary>
internal sealed class JwtKit
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Dictionary<string, AsymmetricAlgorithm> _keys;

    public JwtKit()
    {
        Clock = new FakeTimeProvider(Start);
        _keys = Shared.Keys;
        BundleA = new JwtBundle(TrustDomain.Parse("a"), _keys.Where(k => k.Key != "kb").Select(k => JwtAuthority.FromKey(k.Key, k.Value)));
        BundleB = new JwtBundle(TrustDomain.Parse("b"), [JwtAuthority.FromKey("kb", _keys["kb"])]);
        Bundles = BundleSet.Empty.With(BundleA).With(BundleB);
    }

    public FakeTimeProvider Clock { get; }

    public DateTimeOffset Now => Clock.GetUtcNow();

    public SpiffeId Id { get; } = SpiffeId.Parse("spiffe://a/x");

    public ECDsa Ec256 => (ECDsa)_keys["k1"];

    public JwtBundle BundleA { get; }

    public JwtBundle BundleB { get; }

    public BundleSet Bundles { get; }

    public AsymmetricAlgorithm Key(string kid) => _keys[kid];

    public JwtSvidValidator Validator() => new(Clock);

    /// <summary>The default claims: sub spiffe://a/x, aud svc, exp now+300, iat now; edits applied.</summary>
    public JsonObject Payload(params string[] edits) => (JsonObject)JsonNode.Parse(EditPayload(edits))!;

    /// <summary>
    /// Applies edits to the default payload: <c>set:name=json</c> (NOW±n is the current Unix time
    /// plus n), <c>remove:name</c>, <c>dup:name</c> (repeat the claim), <c>nested-dup</c>,
    /// <c>raw:text</c> (the whole payload).
    /// </summary>
    public string EditPayload(params string[] edits)
    {
        var now = Now.ToUnixTimeSeconds();
        var members = new List<KeyValuePair<string, string>>
        {
            new("sub", "\"spiffe://a/x\""),
            new("aud", "\"svc\""),
            new("exp", (now + 300).ToString()),
            new("iat", now.ToString()),
        };
        foreach (var edit in edits)
        {
            var colon = edit.IndexOf(':');
            var op = colon < 0 ? edit : edit[..colon];
            var arg = colon < 0 ? "" : edit[(colon + 1)..];
            switch (op)
            {
                case "raw":
                    return arg;
                case "nested-dup":
                    members.Add(new("ext", "{\"a\":1,\"a\":1}"));
                    break;
                case "remove":
                    members.RemoveAll(m => m.Key == arg);
                    break;
                case "dup":
                    members.Add(members.First(m => m.Key == arg));
                    break;
                case "set":
                    var eq = arg.IndexOf('=');
                    var name = arg[..eq];
                    var value = ResolveNow(arg[(eq + 1)..], now);
                    var index = members.FindIndex(m => m.Key == name);
                    if (index >= 0)
                    {
                        members[index] = new(name, value);
                    }
                    else
                    {
                        members.Add(new(name, value));
                    }

                    break;
                default:
                    throw new ArgumentException(edit);
            }
        }

        return "{" + string.Join(",", members.Select(m => $"\"{m.Key}\":{m.Value}")) + "}";
    }

    /// <summary>Signs <paramref name="headerJson"/>.<paramref name="payloadJson"/> with the key the header names.</summary>
    public string Token(
        string headerJson = """{"alg":"ES256","kid":"k1"}""",
        string? payloadJson = null,
        Action<JsonObject>? payload = null,
        string? signerKid = null,
        AsymmetricAlgorithm? signer = null)
    {
        payloadJson ??= EditPayload();
        if (payload is not null)
        {
            var node = (JsonObject)JsonNode.Parse(payloadJson)!;
            payload(node);
            payloadJson = node.ToJsonString();
        }

        string alg = "ES256";
        string? kid = null;
        try
        {
            using var doc = JsonDocument.Parse(headerJson);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var m in doc.RootElement.EnumerateObject())
                {
                    if (m.Name == "alg" && m.Value.ValueKind == JsonValueKind.String)
                    {
                        alg = m.Value.GetString()!;
                    }

                    if (m.Name == "kid" && m.Value.ValueKind == JsonValueKind.String)
                    {
                        kid = m.Value.GetString();
                    }
                }
            }
        }
        catch (JsonException)
        {
        }

        var key = signer ?? (signerKid is not null ? _keys[signerKid] : kid is not null && _keys.TryGetValue(kid, out var k) ? k : _keys["k1"]);
        var signingInput = B64(Encoding.UTF8.GetBytes(headerJson)) + "." + B64(Encoding.UTF8.GetBytes(payloadJson));
        return signingInput + "." + B64(SignRaw(key, alg, Encoding.ASCII.GetBytes(signingInput)));
    }

    public static byte[] SignRaw(AsymmetricAlgorithm key, string alg, byte[] data)
    {
        var hash = alg.Length == 5 ? alg[2..] switch
        {
            "384" => HashAlgorithmName.SHA384,
            "512" => HashAlgorithmName.SHA512,
            _ => HashAlgorithmName.SHA256,
        } : HashAlgorithmName.SHA256;
        return key switch
        {
            ECDsa ec => ec.SignData(data, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            RSA rsa => rsa.SignData(data, hash, alg.StartsWith("PS", StringComparison.Ordinal) ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
            _ => throw new ArgumentException("unsupported key type", nameof(key)),
        };
    }

    public static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>Flips one character of the payload (keeps it base64url).</summary>
    public static string Tamper(string token)
    {
        var p = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(p[1])).Replace("spiffe://a/x", "spiffe://a/y", StringComparison.Ordinal);
        return p[0] + "." + B64(Encoding.UTF8.GetBytes(payload)) + "." + p[2];
    }

    public static string Relabel(string token, string headerJson)
    {
        var p = token.Split('.');
        return B64(Encoding.UTF8.GetBytes(headerJson)) + "." + p[1] + "." + p[2];
    }

    /// <summary>The same bytes spelled with non-zero padding bits in the last character.</summary>
    public static string NonCanonical(string part)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        var last = alphabet.IndexOf(part[^1], StringComparison.Ordinal);
        return part[..^1] + alphabet[last ^ 1];
    }

    public static byte[] DerToP1363(byte[] der, int fieldLength)
    {
        var reader = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        var result = new byte[2 * fieldLength];
        Write(reader.ReadIntegerBytes().Span, result.AsSpan(0, fieldLength));
        Write(reader.ReadIntegerBytes().Span, result.AsSpan(fieldLength));
        return result;

        static void Write(ReadOnlySpan<byte> integer, Span<byte> field)
        {
            var trimmed = integer.TrimStart((byte)0);
            trimmed.CopyTo(field[(field.Length - trimmed.Length)..]);
        }
    }

    public static byte[] P1363ToDer(byte[] p1363)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            var half = p1363.Length / 2;
            writer.WriteIntegerUnsigned(p1363.AsSpan(0, half));
            writer.WriteIntegerUnsigned(p1363.AsSpan(half));
        }

        return writer.Encode();
    }

    private static string ResolveNow(string value, long now)
    {
        var quoted = value.StartsWith('"');
        var inner = quoted ? value.Trim('"') : value;
        if (!inner.StartsWith("NOW", StringComparison.Ordinal))
        {
            return value;
        }

        var offset = inner.Length > 3 ? double.Parse(inner[3..], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var resolved = (now + offset).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return quoted ? "\"" + resolved + "\"" : resolved;
    }

    /// <summary>Keys are made once per test run: RSA generation is slow.</summary>
    private static class Shared
    {
        public static readonly Dictionary<string, AsymmetricAlgorithm> Keys = new()
        {
            ["k1"] = ECDsa.Create(ECCurve.NamedCurves.nistP256),
            ["k384"] = ECDsa.Create(ECCurve.NamedCurves.nistP384),
            ["k521"] = ECDsa.Create(ECCurve.NamedCurves.nistP521),
            ["rsa"] = RSA.Create(2048),
            ["rsa1024"] = RSA.Create(1024),
            ["k256k1"] = ECDsa.Create(ECCurve.CreateFromFriendlyName("secP256k1")),
            ["kb"] = ECDsa.Create(ECCurve.NamedCurves.nistP256),
        };
    }
}
