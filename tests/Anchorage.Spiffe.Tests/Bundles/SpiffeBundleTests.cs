using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Spiffe.Tests.Bundles;

public class SpiffeBundleTests
{
    private const string Domain = "example.org";
    private static readonly TrustDomain Td = TrustDomain.Parse(Domain);

    private static X509Certificate2 EcCa => TestAuthorities.Ca(Domain, TestKeyKind.P256);

    private static X509Certificate2 RsaCa => TestAuthorities.Ca(Domain, TestKeyKind.Rsa2048);

    private static AsymmetricAlgorithm JwtEcKey => TestAuthorities.Key(TestKeyKind.P256, 1);

    private static AsymmetricAlgorithm JwtRsaKey => TestAuthorities.Key(TestKeyKind.Rsa2048, 1);

    // ---- One defect at a time on keys[1] of [x509 EC CA, <subject>, jwt EC key] ----

    /// <summary>The subject key of a case and the defect it carries.</summary>
    private static (JsonObject Subject, Action<JsonObject> Defect) Case(string name) => name switch
    {
        // SPIFFE_Trust_Domain_and_Bundle 4.2.2
        "use missing" => (X509(RsaCa), k => k.Remove("use")),
        "use unknown" => (X509(RsaCa), k => k["use"] = "enc"),
        "use wrong case" => (Jwt("jwt-rsa", JwtRsaKey), k => k["use"] = "JWT-SVID"),
        "use null" => (Jwt("jwt-rsa", JwtRsaKey), k => k["use"] = null),

        // 4.2.1
        "kty missing" => (X509(RsaCa), k => k.Remove("kty")),
        "kty unknown" => (Jwt("jwt-rsa", JwtRsaKey), k => k["kty"] = "OKP"),
        "kty oct secret" => (Jwt("jwt-rsa", JwtRsaKey), k =>
        {
            k.Remove("n");
            k.Remove("e");
            k["kty"] = "oct";
            k["k"] = "c2VjcmV0LXNlY3JldC1zZWNyZXQ";
        }),
        "crv unsupported" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["crv"] = "secp256k1"),

        // X509-SVID 6.2
        "x5c missing" => (X509(RsaCa), k => k.Remove("x5c")),
        "x5c empty" => (X509(RsaCa), k => k["x5c"] = new JsonArray()),
        "x5c null" => (X509(RsaCa), k => k["x5c"] = null),

        // JWT-SVID 6.1
        "kid missing" => (Jwt("jwt-rsa", JwtRsaKey), k => k.Remove("kid")),
        "kid empty" => (Jwt("jwt-rsa", JwtRsaKey), k => k["kid"] = string.Empty),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    public static TheoryData<string, string> IgnoredKeyCases => new()
    {
        { "use missing", "keys[1]: key has no \"use\"; ignored" },
        { "use unknown", "keys[1]: key use \"enc\" is not supported; ignored" },
        { "use wrong case", "keys[1]: key use \"JWT-SVID\" is not supported; ignored" },
        { "use null", "keys[1]: key has no \"use\"; ignored" },
        { "kty missing", "keys[1]: key has no \"kty\"; ignored" },
        { "kty unknown", "keys[1]: key type \"OKP\" is not supported; ignored" },
        { "kty oct secret", "keys[1]: key type \"oct\" is not supported; ignored" },
        { "crv unsupported", "keys[1]: EC curve \"secp256k1\" is not supported; ignored" },
        { "x5c missing", "keys[1]: x509-svid key has no x5c; ignored" },
        { "x5c empty", "keys[1]: x509-svid key has an empty x5c; ignored" },
        { "x5c null", "keys[1]: x509-svid key has no x5c; ignored" },
        { "kid missing", "keys[1]: jwt-svid key has no \"kid\"; ignored" },
        { "kid empty", "keys[1]: jwt-svid key has no \"kid\"; ignored" },
    };

    [Theory]
    [MemberData(nameof(IgnoredKeyCases))]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.2")]
    [Trait("Spec", "X509-SVID 6.2")]
    [Trait("Spec", "JWT-SVID 6.1")]
    public void Parse_KeyTheStandardsSayToIgnore_IgnoresOnlyThatKeyWithWarning(string name, string warning)
    {
        var (subject, defect) = Case(name);
        defect(subject);

        var bundle = SpiffeBundle.Parse(Td, Document(subject), out var warnings);

        Assert.Equal([warning], warnings);
        Assert.Equal([EcCa.RawData], bundle.X509Authorities.Select(c => c.RawData));
        Assert.Equal(["jwt-ec"], bundle.JwtAuthorities.Select(a => a.KeyId));
    }

    [Theory]
    [MemberData(nameof(IgnoredKeyCases))]
    public void Parse_SameFixtureWithoutDefect_KeepsEveryKey(string name, string warning)
    {
        _ = warning;
        var (subject, _) = Case(name);

        var bundle = SpiffeBundle.Parse(Td, Document(subject), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(3, bundle.X509Authorities.Length + bundle.JwtAuthorities.Length);
    }

    private static (JsonNode Subject, Action<JsonObject> Defect) ErrorCase(string name) => name switch
    {
        "key not object" => (X509(RsaCa), _ => { }),
        "use not string" => (X509(RsaCa), k => k["use"] = 5),
        "kty not string" => (X509(RsaCa), k => k["kty"] = true),
        "kid not string" => (Jwt("jwt-rsa", JwtRsaKey), k => k["kid"] = 7),
        "x5c not array" => (X509(RsaCa), k => k["x5c"] = k["x5c"]![0]!.GetValue<string>()),
        "x5c item not string" => (X509(RsaCa), k => k["x5c"] = new JsonArray(1)),
        "x5c not base64" => (X509(RsaCa), k => k["x5c"] = new JsonArray("!!not base64!!")),
        "x5c base64url" => (X509(RsaCa), k => k["x5c"] = new JsonArray(Convert.ToBase64String(RsaCa.RawData).Replace('+', '-').Replace('/', '_') + "-_")),
        "x5c empty string" => (X509(RsaCa), k => k["x5c"] = new JsonArray(string.Empty)),
        "x5c not certificate" => (X509(RsaCa), k => k["x5c"] = new JsonArray("MAMCAQE=")),
        "ec crv missing" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k.Remove("crv")),
        "ec x missing" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k.Remove("x")),
        "ec y missing" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k.Remove("y")),
        "ec x not base64url" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["x"] = "ab+/" + k["x"]!.GetValue<string>()[4..]),
        "ec x empty" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["x"] = string.Empty),
        "ec x short" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["x"] = JwkJson.B64Url(B64UrlDecode(k["x"]!).AsSpan(1))),
        "ec y long" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["y"] = JwkJson.B64Url([0, .. B64UrlDecode(k["y"]!)])),
        "ec point off curve" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["y"] = JwkJson.B64Url(FlipLastBit(B64UrlDecode(k["y"]!)))),
        "ec crv of other size" => (Jwt("jwt-ec2", TestAuthorities.Key(TestKeyKind.P256, 2)), k => k["crv"] = "P-384"),
        "rsa n missing" => (Jwt("jwt-rsa", JwtRsaKey), k => k.Remove("n")),
        "rsa e missing" => (Jwt("jwt-rsa", JwtRsaKey), k => k.Remove("e")),
        "rsa n 1024 bits" => (Jwt("jwt-rsa", JwtRsaKey), k => k["n"] = JwkJson.B64Url(B64UrlDecode(k["n"]!).AsSpan(0, 128))),
        "rsa n 16392 bits" => (Jwt("jwt-rsa", JwtRsaKey), k => k["n"] = JwkJson.B64Url([0xFF, .. Enumerable.Repeat(B64UrlDecode(k["n"]!), 8).SelectMany(b => b)])),
        "rsa e even" => (Jwt("jwt-rsa", JwtRsaKey), k => k["e"] = "AQAA"),
        "rsa e one" => (Jwt("jwt-rsa", JwtRsaKey), k => k["e"] = "AQ"),
        "rsa e nine bytes" => (Jwt("jwt-rsa", JwtRsaKey), k => k["e"] = JwkJson.B64Url([1, 0, 0, 0, 0, 0, 0, 0, 1])),
        "private d on jwt key" => (Jwt("jwt-rsa", JwtRsaKey), k => k["d"] = "AQAB"),
        "private d on x509 key" => (X509(EcCa2), k => k["d"] = "AQAB"),
        "x509 params of another key" => (X509(EcCa2), k =>
        {
            var other = JwkJson.X509Key(TestAuthorities.Ca(Domain, TestKeyKind.P384, 3));
            k["x"] = other["x"]!.GetValue<string>();
            k["y"] = other["y"]!.GetValue<string>();
        }),
        "x509 kty RSA over EC certificate" => (X509(EcCa2), k =>
        {
            k.Remove("crv");
            k.Remove("x");
            k.Remove("y");
            k["kty"] = "RSA";
            k["n"] = JwkJson.X509Key(RsaCa)["n"]!.GetValue<string>();
            k["e"] = "AQAB";
        }),
        "jwt x5c of another key" => (Jwt("jwt-rsa", JwtRsaKey), k => k["x5c"] = new JsonArray(Convert.ToBase64String(RsaCa.RawData))),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private static X509Certificate2 EcCa2 => TestAuthorities.Ca(Domain, TestKeyKind.P384, 2);

    public static TheoryData<string, string> MalformedKeyCases => new()
    {
        { "key not object", "keys[1]: a key must be a JSON object" },
        { "use not string", "keys[1]: \"use\" must be a string" },
        { "kty not string", "keys[1]: \"kty\" must be a string" },
        { "kid not string", "keys[1]: \"kid\" must be a string" },
        { "x5c not array", "keys[1]: \"x5c\" must be an array of strings" },
        { "x5c item not string", "keys[1]: \"x5c\" must be an array of strings" },
        { "x5c not base64", "keys[1]: x5c[0] is not valid base64" },
        { "x5c base64url", "keys[1]: x5c[0] is not valid base64" },
        { "x5c empty string", "keys[1]: x5c[0] is not valid base64" },
        { "x5c not certificate", "keys[1]: x5c[0] is not a valid X.509 certificate" },
        { "ec crv missing", "keys[1]: EC key is missing \"crv\"" },
        { "ec x missing", "keys[1]: EC key is missing \"x\"" },
        { "ec y missing", "keys[1]: EC key is missing \"y\"" },
        { "ec x not base64url", "keys[1]: \"x\" is not valid base64url" },
        { "ec x empty", "keys[1]: \"x\" is not valid base64url" },
        { "ec x short", "keys[1]: \"x\" must be 32 bytes for P-256" },
        { "ec y long", "keys[1]: \"y\" must be 32 bytes for P-256" },
        { "ec point off curve", "keys[1]: EC key is not a valid P-256 public key" },
        { "ec crv of other size", "keys[1]: \"x\" must be 48 bytes for P-384" },
        { "rsa n missing", "keys[1]: RSA key is missing \"n\"" },
        { "rsa e missing", "keys[1]: RSA key is missing \"e\"" },
        { "rsa n 1024 bits", "keys[1]: RSA modulus must be between 2048 and 16384 bits" },
        { "rsa n 16392 bits", "keys[1]: RSA modulus must be between 2048 and 16384 bits" },
        { "rsa e even", "keys[1]: RSA exponent is not valid" },
        { "rsa e one", "keys[1]: RSA exponent is not valid" },
        { "rsa e nine bytes", "keys[1]: RSA exponent is not valid" },
        { "private d on jwt key", "keys[1]: key contains private key parameter \"d\"" },
        { "private d on x509 key", "keys[1]: key contains private key parameter \"d\"" },
        { "x509 params of another key", "keys[1]: key parameters do not match the x5c certificate's public key" },
        { "x509 kty RSA over EC certificate", "keys[1]: key parameters do not match the x5c certificate's public key" },
        { "jwt x5c of another key", "keys[1]: key parameters do not match the x5c certificate's public key" },
    };

    [Theory]
    [MemberData(nameof(MalformedKeyCases))]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.2")]
    [Trait("Spec", "X509-SVID 6.1")]
    public void Parse_MalformedKey_ThrowsFormatExceptionNamingTheKey(string name, string message)
    {
        var (subject, defect) = ErrorCase(name);
        JsonNode node = subject;
        if (name == "key not object")
        {
            node = JsonValue.Create("not a key");
        }
        else
        {
            defect((JsonObject)subject);
        }

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, Document(node)));

        Assert.Equal(message, ex.Message);
    }

    [Theory]
    [MemberData(nameof(MalformedKeyCases))]
    public void Parse_SameMalformedFixtureWithoutDefect_Parses(string name, string message)
    {
        _ = message;
        var (subject, _) = ErrorCase(name);

        var bundle = SpiffeBundle.Parse(Td, Document(subject), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(3, bundle.X509Authorities.Length + bundle.JwtAuthorities.Length);
    }

    [Fact]
    [Trait("Spec", "X509-SVID 6.2")]
    public void Parse_X509KeyWithSeveralX5c_UsesTheFirstWithWarning()
    {
        var subject = X509(RsaCa);
        subject["x5c"]!.AsArray().Add(Convert.ToBase64String(EcCa2.RawData));

        var bundle = SpiffeBundle.Parse(Td, Document(subject), out var warnings);

        Assert.Equal(["keys[1]: x509-svid key has 2 x5c certificates; only the first is used"], warnings);
        Assert.Equal([EcCa.RawData, RsaCa.RawData], bundle.X509Authorities.Select(c => c.RawData));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 6.1")]
    public void Parse_X509KeyWithKid_KeepsKeyAndWarns()
    {
        var subject = X509(RsaCa);
        subject["kid"] = "should-not-be-here";

        var bundle = SpiffeBundle.Parse(Td, Document(subject), out var warnings);

        Assert.Equal(["keys[1]: x509-svid key has a \"kid\"; the kid is ignored"], warnings);
        Assert.Equal(2, bundle.X509Authorities.Length);
    }

    [Fact]
    public void Parse_RepeatedX509Certificate_KeepsFirstWithWarning()
    {
        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(JwkJson.Bundle(X509(EcCa), X509(RsaCa), X509(EcCa))), out var warnings);

        Assert.Equal(["keys[2]: duplicate of keys[0]; ignored"], warnings);
        Assert.Equal([EcCa.RawData, RsaCa.RawData], bundle.X509Authorities.Select(c => c.RawData));
    }

    [Fact]
    public void Parse_RepeatedKidWithSameKey_KeepsFirstWithWarning()
    {
        var doc = JwkJson.Bundle(Jwt("k1", JwtEcKey), Jwt("k2", JwtRsaKey), Jwt("k1", JwtEcKey));

        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(doc), out var warnings);

        Assert.Equal(["keys[2]: duplicate of keys[0]; ignored"], warnings);
        Assert.Equal(["k1", "k2"], bundle.JwtAuthorities.Select(a => a.KeyId));
    }

    [Fact]
    public void Parse_RepeatedKidWithDifferentKey_Throws()
    {
        var doc = JwkJson.Bundle(Jwt("k1", JwtEcKey), Jwt("k2", JwtRsaKey), Jwt("k1", TestAuthorities.Key(TestKeyKind.P256, 2)));

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, JwkJson.Utf8(doc)));

        Assert.Equal("keys[2]: key id \"k1\" is also used by keys[0] for a different key", ex.Message);
    }

    [Fact]
    public void Parse_DistinctKidsOverSameKey_KeepsBoth()
    {
        var doc = JwkJson.Bundle(Jwt("k1", JwtEcKey), Jwt("k2", JwtEcKey));

        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(doc), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(["k1", "k2"], bundle.JwtAuthorities.Select(a => a.KeyId));
    }

    [Fact]
    public void Parse_DuplicateMemberInKey_Throws()
    {
        var json = "{\"keys\":[{\"use\":\"jwt-svid\",\"use\":\"x509-svid\",\"kty\":\"EC\"}]}";

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(json)));

        Assert.Equal("keys[0]: duplicate member \"use\"", ex.Message);
    }

    [Fact]
    public void Parse_LenientEncodings_AcceptedAndEqualToCanonical()
    {
        // base64url with '=' padding and an RSA modulus with a leading zero octet (go-jose accepts both).
        var canonical = Jwt("k", JwtRsaKey);
        var lenient = Jwt("k", JwtRsaKey);
        lenient["n"] = JwkJson.B64Url([0, .. B64UrlDecode(lenient["n"]!)]);
        lenient["e"] = "AQAB";
        var ec = Jwt("e", JwtEcKey);
        var x = ec["x"]!.GetValue<string>();
        ec["x"] = x + new string('=', (4 - (x.Length % 4)) % 4);

        var a = SpiffeBundle.Parse(Td, JwkJson.Utf8(JwkJson.Bundle(canonical)));
        var b = SpiffeBundle.Parse(Td, JwkJson.Utf8(JwkJson.Bundle(lenient, ec)), out var warnings);

        Assert.Empty(warnings);
        Assert.True(a.JwtAuthorities[0].SameAs(b.JwtAuthorities[0]));
        Assert.True(JwtAuthority.FromKey("e", JwtEcKey).SameAs(b.JwtAuthorities[1]));
    }

    [Fact]
    public void Parse_JwtKeyWithMatchingX5c_Accepted()
    {
        var subject = Jwt("jwt-ca", TestAuthorities.Key(TestKeyKind.Rsa2048));
        subject["x5c"] = new JsonArray(Convert.ToBase64String(RsaCa.RawData));

        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(JwkJson.Bundle(subject)), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal("jwt-ca", Assert.Single(bundle.JwtAuthorities).KeyId);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1")]
    public void Parse_UnknownMembers_Ignored()
    {
        var key = X509(EcCa);
        key["alg"] = "ES256";
        key["x5t#S256"] = "abc";
        key["ext"] = new JsonObject { ["nested"] = new JsonArray(1, 2) };
        var doc = JwkJson.Bundle(key);
        doc["issuer"] = "https://example.org";
        doc["spiffe_future"] = new JsonObject();

        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(doc), out var warnings);

        Assert.Empty(warnings);
        Assert.Single(bundle.X509Authorities);
    }

    // ---- The JWK Set (SPIFFE_Trust_Domain_and_Bundle 4.1) ----

    public static TheoryData<string, string> MalformedDocuments => new()
    {
        { "{\"spiffe_sequence\":1}", "bundle has no \"keys\" member" },
        { "{\"keys\":null}", "bundle has no \"keys\" member" },
        { "{\"keys\":{}}", "\"keys\" must be an array" },
        { "{\"keys\":\"\"}", "\"keys\" must be an array" },
        { "[]", "bundle must be a JSON object" },
        { "\"keys\"", "bundle must be a JSON object" },
        { "{\"keys\":[],\"keys\":[]}", "duplicate member \"keys\"" },
        { "{\"keys\":[]", "bundle is not valid JSON (line 1, byte 11)" },
        { "{\"keys\":[],}", "bundle is not valid JSON (line 1, byte 12)" },
        { "{\"keys\":[]} x", "bundle is not valid JSON (line 1, byte 13)" },
        { "{\"keys\":[]\n// comment\n}", "bundle is not valid JSON (line 2, byte 1)" },
        { "", "bundle is not valid JSON (line 1, byte 1)" },
        { "{\"keys\":[],\"spiffe_sequence\":-1}", "\"spiffe_sequence\" must be an unsigned 64-bit integer" },
        { "{\"keys\":[],\"spiffe_sequence\":1.5}", "\"spiffe_sequence\" must be an unsigned 64-bit integer" },
        { "{\"keys\":[],\"spiffe_sequence\":1e3}", "\"spiffe_sequence\" must be an unsigned 64-bit integer" },
        { "{\"keys\":[],\"spiffe_sequence\":\"1\"}", "\"spiffe_sequence\" must be an unsigned 64-bit integer" },
        { "{\"keys\":[],\"spiffe_sequence\":18446744073709551616}", "\"spiffe_sequence\" must be an unsigned 64-bit integer" },
        { "{\"keys\":[],\"spiffe_refresh_hint\":-1}", "\"spiffe_refresh_hint\" must be a non-negative integer number of seconds" },
        { "{\"keys\":[],\"spiffe_refresh_hint\":0.5}", "\"spiffe_refresh_hint\" must be a non-negative integer number of seconds" },
        { "{\"keys\":[],\"spiffe_refresh_hint\":\"300\"}", "\"spiffe_refresh_hint\" must be a non-negative integer number of seconds" },
        { "{\"keys\":[],\"spiffe_refresh_hint\":922337203686}", "\"spiffe_refresh_hint\" must be a non-negative integer number of seconds" },
    };

    [Theory]
    [MemberData(nameof(MalformedDocuments))]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1")]
    public void Parse_MalformedDocument_ThrowsFormatException(string json, string message)
    {
        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(json)));

        Assert.Equal(message, ex.Message);
    }

    public static TheoryData<string, ulong?, long?> ValidDocuments => new()
    {
        { "{\"keys\":[]}", null, null },
        { "\uFEFF{\"keys\":[]}", null, null },
        { "{\"keys\":[],\"spiffe_sequence\":null,\"spiffe_refresh_hint\":null}", null, null },
        { "{\"keys\":[],\"spiffe_sequence\":0,\"spiffe_refresh_hint\":0}", 0UL, 0L },
        { "{\"spiffe_refresh_hint\":2419200,\"keys\":[],\"spiffe_sequence\":1}", 1UL, 2419200L },
        { "{\"keys\":[],\"spiffe_sequence\":18446744073709551615}", ulong.MaxValue, null },
        { "{\"keys\":[],\"spiffe_refresh_hint\":922337203685}", null, 922337203685L },
        { " \n\t{ \"keys\" : [ ] }\n", null, null },
    };

    [Theory]
    [MemberData(nameof(ValidDocuments))]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1")]
    public void Parse_ValidDocument_ReadsSequenceAndHint(string json, ulong? sequence, long? hintSeconds)
    {
        var bundle = SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(json), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(sequence, bundle.SequenceNumber);
        Assert.Equal(hintSeconds is { } s ? TimeSpan.FromSeconds(s) : null, bundle.RefreshHint);
        Assert.Equal(Td, bundle.TrustDomain);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.3")]
    public void Parse_EmptyKeys_TrustsNothing()
    {
        var bundle = SpiffeBundle.Parse(Td, "{\"keys\":[]}"u8);

        Assert.Empty(bundle.X509Authorities);
        Assert.Empty(bundle.JwtAuthorities);
        Assert.Empty(bundle.ToX509Bundle().Authorities);
        Assert.Empty(bundle.ToJwtBundle().Authorities);
    }

    [Fact]
    public void Parse_TooManyKeys_Throws()
    {
        var tooMany = "{\"keys\":[" + string.Join(',', Enumerable.Repeat("{}", SpiffeBundle.MaxKeys + 1)) + "]}";
        var atLimit = "{\"keys\":[" + string.Join(',', Enumerable.Repeat("{}", SpiffeBundle.MaxKeys)) + "]}";

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(tooMany)));
        var ok = SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(atLimit), out var warnings);

        Assert.Equal("\"keys\" has more than 4096 entries", ex.Message);
        Assert.Equal(SpiffeBundle.MaxKeys, warnings.Count);
        Assert.Empty(ok.X509Authorities);
    }

    [Fact]
    public void Parse_TooLarge_Throws()
    {
        var padding = new string(' ', SpiffeBundle.MaxSize - "{\"keys\":[]}".Length);
        var atLimit = Encoding.UTF8.GetBytes("{\"keys\":[]}" + padding);
        var tooLarge = Encoding.UTF8.GetBytes("{\"keys\":[]} " + padding);

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, tooLarge));

        Assert.Equal("bundle is larger than 4194304 bytes", ex.Message);
        Assert.Empty(SpiffeBundle.Parse(Td, atLimit).X509Authorities);
    }

    [Fact]
    public void Parse_DeeplyNestedUnknownMember_Throws()
    {
        var deep = "{\"keys\":[],\"x\":" + new string('[', 40) + new string(']', 40) + "}";
        var shallow = "{\"keys\":[],\"x\":" + new string('[', 20) + new string(']', 20) + "}";

        Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(deep)));
        Assert.Empty(SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(shallow)).X509Authorities);
    }

    [Fact]
    public void Parse_EmptyTrustDomain_ThrowsArgumentException()
    {
        var ex = Assert.Throws<ArgumentException>(() => SpiffeBundle.Parse(default, "{\"keys\":[]}"u8));

        Assert.Equal("trust domain is empty (Parameter 'trustDomain')", ex.Message);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle Appendix A")]
    public void Parse_SpecExampleShape_Parses()
    {
        // Appendix A: RSA x509-svid keys with x5c, n and e, sequence and refresh hint.
        var json = $$"""
            {
                    "spiffe_sequence": 2,
                    "spiffe_refresh_hint": 2419200,
                    "keys": [
                            {{X509(RsaCa).ToJsonString()}},
                            {{X509(TestAuthorities.Ca(Domain, TestKeyKind.Rsa3072)).ToJsonString()}}
                    ]
            }
            """;

        var bundle = SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(json), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(2UL, bundle.SequenceNumber);
        Assert.Equal(TimeSpan.FromDays(28), bundle.RefreshHint);
        Assert.Equal(2, bundle.X509Authorities.Length);
    }

    // ---- Independent producer: openssl ----

    public static TheoryData<string?> OpenSslCurves => new() { "P-256", "P-384", "P-521", null };

    [Theory]
    [MemberData(nameof(OpenSslCurves))]
    [Trait("Spec", "X509-SVID 6.1")]
    public void Parse_BundleBuiltFromOpenSslCertificate_Parses(string? curve)
    {
        var ca = OpenSslAuthority.Create(Domain, curve);
        var x509 = new JsonObject { ["use"] = "x509-svid", ["kty"] = ca.Kty };
        var jwt = new JsonObject { ["use"] = "jwt-svid", ["kty"] = ca.Kty, ["kid"] = "openssl" };
        foreach (var key in new[] { x509, jwt })
        {
            if (ca.Crv is null)
            {
                key["n"] = ca.First;
                key["e"] = ca.Second;
            }
            else
            {
                key["crv"] = ca.Crv;
                key["x"] = ca.First;
                key["y"] = ca.Second;
            }
        }

        x509["x5c"] = new JsonArray(ca.X5c);
        var doc = JwkJson.Bundle(x509, jwt);
        doc["spiffe_sequence"] = 7;

        var bundle = SpiffeBundle.Parse(Td, JwkJson.Utf8(doc), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(ca.CertificateDer, Assert.Single(bundle.X509Authorities).RawData);
        Assert.Equal(ca.SubjectPublicKeyInfo, Assert.Single(bundle.JwtAuthorities).SubjectPublicKeyInfo.ToArray());
        Assert.Equal(7UL, bundle.SequenceNumber);

        // Our emission of the openssl key carries the same key parameters openssl printed.
        var emitted = JsonNode.Parse(bundle.ToJson())!["keys"]![0]!;
        Assert.Equal(ca.First, emitted[ca.Crv is null ? "n" : "x"]!.GetValue<string>());
        Assert.Equal(ca.Second, emitted[ca.Crv is null ? "e" : "y"]!.GetValue<string>());
        Assert.Equal(ca.X5c, emitted["x5c"]![0]!.GetValue<string>());
    }

    [Fact]
    [Trait("Spec", "X509-SVID 6.1")]
    public void Parse_OpenSslCertificateWithParametersOfAnotherOpenSslKey_Throws()
    {
        var ca = OpenSslAuthority.Create(Domain, "P-256");
        var other = OpenSslAuthority.Create(Domain, "P-256");
        var key = new JsonObject
        {
            ["use"] = "x509-svid", ["kty"] = "EC", ["crv"] = "P-256",
            ["x"] = other.First, ["y"] = other.Second, ["x5c"] = new JsonArray(ca.X5c),
        };

        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Parse(Td, JwkJson.Utf8(JwkJson.Bundle(key))));

        Assert.Equal("keys[0]: key parameters do not match the x5c certificate's public key", ex.Message);
    }

    // ---- Emission ----

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.3")]
    public void ToJson_EmptyBundle_AlwaysWritesKeys()
    {
        var bundle = new SpiffeBundle(Td, [], []);

        Assert.Equal("{\"keys\":[]}", bundle.ToJson());
    }

    [Fact]
    [Trait("Spec", "X509-SVID 6.1")]
    [Trait("Spec", "JWT-SVID 6.1")]
    public void ToJson_EveryKind_WritesStrictMembersInFixedOrder()
    {
        var bundle = new SpiffeBundle(
            Td,
            [EcCa, RsaCa, TestAuthorities.Ca(Domain, TestKeyKind.P384), TestAuthorities.Ca(Domain, TestKeyKind.P521)],
            [JwtAuthority.FromKey("ec", JwtEcKey), JwtAuthority.FromKey("rsa", JwtRsaKey)],
            sequenceNumber: 42,
            refreshHint: TimeSpan.FromMinutes(5));

        using var doc = JsonDocument.Parse(bundle.ToUtf8Json());
        var root = doc.RootElement;

        Assert.Equal(["keys", "spiffe_sequence", "spiffe_refresh_hint"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(42UL, root.GetProperty("spiffe_sequence").GetUInt64());
        Assert.Equal(300, root.GetProperty("spiffe_refresh_hint").GetInt64());
        var keys = root.GetProperty("keys").EnumerateArray().ToArray();
        Assert.Equal(6, keys.Length);
        Assert.Equal(["use", "kty", "crv", "x", "y", "x5c"], keys[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["use", "kty", "n", "e", "x5c"], keys[1].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["use", "kid", "kty", "crv", "x", "y"], keys[4].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["use", "kid", "kty", "n", "e"], keys[5].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["P-256", "P-384", "P-521"], new[] { keys[0], keys[2], keys[3] }.Select(k => k.GetProperty("crv").GetString()));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("x509-svid", keys[i].GetProperty("use").GetString());
            var x5c = keys[i].GetProperty("x5c");
            Assert.Equal(1, x5c.GetArrayLength());
            Assert.Equal(Convert.ToBase64String(bundle.X509Authorities[i].RawData), x5c[0].GetString());
        }

        Assert.Equal("AQAB", keys[1].GetProperty("e").GetString());
        Assert.Equal(["ec", "rsa"], keys[4..].Select(k => k.GetProperty("kid").GetString()));
        Assert.All(keys[4..], k => Assert.Equal("jwt-svid", k.GetProperty("use").GetString()));
    }

    [Fact]
    public void ToJson_SameContent_SameBytes()
    {
        SpiffeBundle Make() => new(Td, [EcCa, RsaCa], [JwtAuthority.FromKey("k", JwtEcKey)], 9, TimeSpan.FromSeconds(60));

        var first = Make().ToUtf8Json();

        Assert.Equal(first, Make().ToUtf8Json());
        Assert.Equal(Encoding.UTF8.GetString(first), Make().ToJson());
        Assert.Equal(first, SpiffeBundle.Parse(Td, first).ToUtf8Json());
    }

    [Fact]
    public void ToJson_Base64_NotEscaped()
    {
        var json = new SpiffeBundle(Td, [RsaCa], []).ToJson();

        Assert.DoesNotContain("\\u", json, StringComparison.Ordinal);
        Assert.Contains(Convert.ToBase64String(RsaCa.RawData), json, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.2")]
    public void ToJson_FractionalRefreshHint_RoundsUpToWholeSeconds()
    {
        Assert.Equal("{\"keys\":[],\"spiffe_refresh_hint\":2}", new SpiffeBundle(Td, [], [], refreshHint: TimeSpan.FromMilliseconds(1500)).ToJson());
        Assert.Equal("{\"keys\":[],\"spiffe_refresh_hint\":1}", new SpiffeBundle(Td, [], [], refreshHint: TimeSpan.FromTicks(1)).ToJson());
        Assert.Equal("{\"keys\":[],\"spiffe_refresh_hint\":0}", new SpiffeBundle(Td, [], [], refreshHint: TimeSpan.Zero).ToJson());
        Assert.Equal("{\"keys\":[],\"spiffe_sequence\":18446744073709551615,\"spiffe_refresh_hint\":922337203685}", new SpiffeBundle(Td, [], [], ulong.MaxValue, TimeSpan.MaxValue).ToJson());
    }

    [Fact]
    public void ToJson_EcCoordinateWithLeadingZero_WritesFullLength()
    {
        ECDsa key;
        do
        {
            key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        }
        while (key.ExportParameters(false).Q.X![0] != 0);

        using (key)
        {
            var json = new SpiffeBundle(Td, [], [JwtAuthority.FromKey("z", key)]).ToJson();
            var x = JsonNode.Parse(json)!["keys"]![0]!["x"]!;

            Assert.Equal(32, B64UrlDecode(x).Length);
            Assert.Equal(0, B64UrlDecode(x)[0]);
            Assert.True(JwtAuthority.FromKey("z", key).SameAs(SpiffeBundle.Parse(Td, Encoding.UTF8.GetBytes(json)).JwtAuthorities[0]));
        }
    }

    [Fact]
    public void ToJson_UnpublishableAuthority_ThrowsInvalidOperation()
    {
        using var brainpool = ECDsa.Create(ECCurve.NamedCurves.brainpoolP256r1);
        using var weak = RSA.Create(1024);
        var brainpoolCa = TestAuthorities.CreateCa(Domain, brainpool);

        var ex1 = Assert.Throws<InvalidOperationException>(() => new SpiffeBundle(Td, [EcCa, brainpoolCa], []).ToJson());
        var ex2 = Assert.Throws<InvalidOperationException>(() => new SpiffeBundle(Td, [], [JwtAuthority.FromKey("weak", weak)]).ToJson());

        Assert.Equal("x509 authority 1 cannot be published: EC curve 1.3.36.3.3.2.8.1.1.7 is not supported", ex1.Message);
        Assert.Equal("jwt authority \"weak\" cannot be published: RSA modulus must be between 2048 and 16384 bits", ex2.Message);
        Assert.NotEmpty(new SpiffeBundle(Td, [EcCa], [JwtAuthority.FromKey("ok", JwtRsaKey)]).ToJson());
    }

    // ---- Round trip ----

    private static readonly (X509Certificate2 Ca, int Slot)[] PoolCas =
        Enumerable.Range(0, 3).SelectMany(slot => new[] { TestKeyKind.P256, TestKeyKind.P384, TestKeyKind.P521 }
            .Select(k => (TestAuthorities.Ca(Domain, k, 10 + slot), slot)))
        .Append((TestAuthorities.Ca(Domain, TestKeyKind.Rsa2048, 10), 0))
        .ToArray();

    private static readonly AsymmetricAlgorithm[] PoolJwtKeys =
    [
        TestAuthorities.Key(TestKeyKind.P256, 20), TestAuthorities.Key(TestKeyKind.P384, 20),
        TestAuthorities.Key(TestKeyKind.P521, 20), TestAuthorities.Key(TestKeyKind.Rsa2048, 20),
        TestAuthorities.Key(TestKeyKind.P256, 21),
    ];

    private static Arbitrary<SpiffeBundle> Bundles()
    {
        var kid = Gen.Elements("a", "b", "kid-1", "ключ", "k/1+2=", "\"quoted\"", "x.y_z", "0", "long-" + new string('k', 200));
        var jwt = Gen.Zip(kid, Gen.Choose(0, PoolJwtKeys.Length - 1));
        return (from cas in Gen.Choose(0, PoolCas.Length - 1).ListOf()
                from jwts in jwt.ListOf()
                from seq in Gen.Elements<ulong?>(null, 0, 1, 42, ulong.MaxValue)
                from hint in Gen.OneOf(Gen.Constant<long?>(null), Gen.Choose(0, int.MaxValue).Select(i => (long?)i))
                select new SpiffeBundle(
                    Td,
                    cas.Select(i => PoolCas[i].Ca),
                    jwts.DistinctBy(j => j.Item1).Select(j => JwtAuthority.FromKey(j.Item1, PoolJwtKeys[j.Item2])),
                    seq,
                    hint is { } h ? TimeSpan.FromSeconds(h) : null)).ToArbitrary();
    }

    [Property(MaxTest = 60)]
    public Property ToUtf8Json_ThenParse_GivesEqualBundle() => Prop.ForAll(Bundles(), bundle =>
    {
        var json = bundle.ToUtf8Json();
        var parsed = SpiffeBundle.Parse(Td, json, out var warnings);

        return warnings.Count == 0
            && parsed.TrustDomain == bundle.TrustDomain
            && parsed.SequenceNumber == bundle.SequenceNumber
            && parsed.RefreshHint == bundle.RefreshHint
            && parsed.X509Authorities.Select(c => Convert.ToBase64String(c.RawData)).SequenceEqual(bundle.X509Authorities.Select(c => Convert.ToBase64String(c.RawData)))
            && parsed.JwtAuthorities.Length == bundle.JwtAuthorities.Length
            && parsed.JwtAuthorities.Zip(bundle.JwtAuthorities).All(p => p.First.SameAs(p.Second))
            && parsed.ToUtf8Json().AsSpan().SequenceEqual(json);
    });

    // ---- Load: format detection ----

    [Fact]
    public void Load_Json_ParsesAsJwkSet()
    {
        var json = "\n  " + new SpiffeBundle(Td, [EcCa], [JwtAuthority.FromKey("k", JwtEcKey)], 3).ToJson();

        var bundle = SpiffeBundle.Load(Td, Encoding.UTF8.GetBytes(json), out var warnings);

        Assert.Empty(warnings);
        Assert.Equal(3UL, bundle.SequenceNumber);
        Assert.Single(bundle.JwtAuthorities);
    }

    [Fact]
    public void Load_JsonWithIgnoredKey_ReturnsWarnings()
    {
        var bytes = JwkJson.Utf8(JwkJson.Bundle(X509(EcCa), new JsonObject { ["use"] = "enc", ["kty"] = "EC" }));

        SpiffeBundle.Load(Td, bytes, out var warnings);

        Assert.Equal(["keys[1]: key use \"enc\" is not supported; ignored"], warnings);
    }

    [Fact]
    public void Load_PemWithTextAndPrivateKey_KeepsCertificatesAndNamesOnlyTheLabel()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var privatePem = key.ExportPkcs8PrivateKeyPem();
        var pem = "Certificate:\n    Data: ...\n" + EcCa.ExportCertificatePem() + "\n" + privatePem + "\n" + RsaCa.ExportCertificatePem() + "\n";

        var bundle = SpiffeBundle.Load(Td, Encoding.UTF8.GetBytes(pem), out var warnings);

        Assert.Equal([EcCa.RawData, RsaCa.RawData], bundle.X509Authorities.Select(c => c.RawData));
        Assert.Empty(bundle.JwtAuthorities);
        Assert.Null(bundle.SequenceNumber);
        Assert.Equal(["PEM block 2 (PRIVATE KEY) is not a certificate; ignored"], warnings);
    }

    [Fact]
    public void Load_OpenSslPem_Parses()
    {
        var ca = OpenSslAuthority.Create(Domain, "P-384");
        var pem = PemEncoding.WriteString("CERTIFICATE", ca.CertificateDer);

        var bundle = SpiffeBundle.Load(Td, Encoding.UTF8.GetBytes(pem));

        Assert.Equal(ca.CertificateDer, Assert.Single(bundle.X509Authorities).RawData);
    }

    [Fact]
    public void Load_ConcatenatedDer_Parses()
    {
        var bundle = SpiffeBundle.Load(Td, [.. EcCa.RawData, .. RsaCa.RawData], out var warnings);

        Assert.Empty(warnings);
        Assert.Equal([EcCa.RawData, RsaCa.RawData], bundle.X509Authorities.Select(c => c.RawData));
    }

    public static TheoryData<string, string> UnloadableFiles => new()
    {
        { string.Empty, "bundle is empty" },
        { " \r\n\t", "bundle is empty" },
        { "hello", "bundle is neither a JWK Set, PEM nor DER" },
        { "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PEM bundle has no CERTIFICATE block" },
        { "-----BEGIN CERTIFICATE-----\nAAAA", "PEM data is malformed (no complete BEGIN/END block)" },
        { "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "certificate 1 is not a valid X.509 certificate" },
        { "{\"keys\":5}", "\"keys\" must be an array" },
    };

    [Theory]
    [MemberData(nameof(UnloadableFiles))]
    public void Load_Unloadable_ThrowsFormatException(string content, string message)
    {
        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Load(Td, Encoding.UTF8.GetBytes(content)));

        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Load_TruncatedDer_ThrowsFormatException()
    {
        var ex = Assert.Throws<FormatException>(() => SpiffeBundle.Load(Td, EcCa.RawData.AsSpan(0, EcCa.RawData.Length - 1)));

        Assert.StartsWith("certificate 1 is not valid DER", ex.Message, StringComparison.Ordinal);
        Assert.Single(SpiffeBundle.Load(Td, EcCa.RawData).X509Authorities);
    }

    [Fact]
    public void Load_EmptyTrustDomain_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => SpiffeBundle.Load(default, EcCa.RawData));
    }

    // ---- helpers ----

    private static JsonObject X509(X509Certificate2 certificate) => JwkJson.X509Key(certificate);

    private static JsonObject Jwt(string kid, AsymmetricAlgorithm key) => JwkJson.JwtKey(kid, key);

    private static byte[] Document(JsonNode subject) =>
        JwkJson.Utf8(JwkJson.Bundle(X509(EcCa), subject, Jwt("jwt-ec", JwtEcKey)));

    private static byte[] B64UrlDecode(JsonNode node) => System.Buffers.Text.Base64Url.DecodeFromChars(node.GetValue<string>());

    private static byte[] FlipLastBit(byte[] value)
    {
        var copy = (byte[])value.Clone();
        copy[^1] ^= 1;
        return copy;
    }
}
