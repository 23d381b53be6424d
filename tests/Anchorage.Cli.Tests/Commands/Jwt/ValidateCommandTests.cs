using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Cli.Tests.Commands.Jwt;

/// <summary>
/// An independent corpus: tokens minted by npm's jose (and a few crafted by hand), answered
/// through `anchorage jwt validate`. Each rejected token has a valid sibling from the same key.
/// </summary>
public sealed class ValidateCommandTests : IClassFixture<ValidateCommandTests.Keys>, IDisposable
{
    private static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly Keys _keys;
    private readonly TempDir _dir = new();
    private readonly FakeTimeProvider _time = new(Now);

    public ValidateCommandTests(Keys keys)
    {
        _keys = keys;
        var acme = new SpiffeBundle(TrustDomain.Parse("acme.corp"), [], [JwtAuthority.FromKey("acme-ec", keys.AcmeEc), JwtAuthority.FromKey("acme-rsa", keys.AcmeRsa)]);
        var payments = new SpiffeBundle(TrustDomain.Parse("payments.acme.corp"), [], [JwtAuthority.FromKey("pay-ec", keys.PaymentsEc)]);
        File.WriteAllText(PathOf("acme.json"), acme.ToJson());
        File.WriteAllText(PathOf("payments.json"), payments.ToJson());
    }

    /// <summary>Signing keys shared by the class (RSA generation is slow).</summary>
    public sealed class Keys
    {
        public ECDsa AcmeEc { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        public RSA AcmeRsa { get; } = RSA.Create(2048);

        public ECDsa PaymentsEc { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    public void Dispose() => _dir.Dispose();

    private string PathOf(string name) => Path.Combine(_dir.Path, name);

    private static JsonObject Claims(string sub = "spiffe://acme.corp/web", string aud = "payments", long expIn = 300) => new()
    {
        ["sub"] = sub,
        ["aud"] = aud,
        ["exp"] = Now.ToUnixTimeSeconds() + expIn,
        ["iat"] = Now.ToUnixTimeSeconds(),
    };

    private CliResult Validate(string token, string audience = "payments", params string[] bundles)
    {
        string[] args = ["jwt", "validate", "--token", token, "--audience", audience];
        foreach (var b in bundles.Length == 0 ? ["acme.corp=acme.json", "payments.acme.corp=payments.json"] : bundles)
        {
            var eq = b.IndexOf('=', StringComparison.Ordinal);
            args = [.. args, "--bundle", b[..(eq + 1)] + PathOf(b[(eq + 1)..])];
        }

        return CliRunner.Run(_time, args);
    }

    private static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    [Theory]
    [Trait("Spec", "JWT-SVID 4")]
    [InlineData("ES256", "acme-ec")]
    [InlineData("ES256", null)]
    [InlineData("RS256", "acme-rsa")]
    [InlineData("PS256", null)]
    public void Validate_JoseMinted_PrintsSubject(string alg, string? kid)
    {
        AsymmetricAlgorithm key = alg.StartsWith("ES", StringComparison.Ordinal) ? _keys.AcmeEc : _keys.AcmeRsa;
        var token = Jose.Mint(alg, kid, key, Claims(), typ: "JWT");

        var result = Validate(token);

        Assert.Equal((0, "spiffe://acme.corp/web\n", string.Empty), (result.ExitCode, result.Out, result.Error));
    }

    public static TheoryData<string, Func<Keys, string>, string> Rejections => new()
    {
        { "wrong audience", k => Jose.Mint("ES256", "acme-ec", k.AcmeEc, Claims(aud: "billing")), "rejected: token aud does not contain \"payments\"" },
        { "expired", k => Jose.Mint("ES256", "acme-ec", k.AcmeEc, Claims(expIn: -120)), "rejected: token has expired" },
        { "cross-domain forgery with kid", k => Jose.Mint("ES256", "acme-ec", k.AcmeEc, Claims(sub: "spiffe://payments.acme.corp/api")), "rejected: token kid \"acme-ec\" is not in the bundle of trust domain \"payments.acme.corp\"" },
        { "cross-domain forgery without kid", k => Jose.Mint("ES256", null, k.AcmeEc, Claims(sub: "spiffe://payments.acme.corp/api")), "rejected: token signature does not verify" },
        { "alg none", _ => B64("{\"alg\":\"none\"}") + "." + B64(Claims().ToJsonString()) + ".", "rejected: token alg \"none\" is not allowed" },
        { "crit header", k => Jose.Mint("ES256", "acme-ec", k.AcmeEc, Claims()).Split('.') is var p ? B64("{\"alg\":\"ES256\",\"kid\":\"acme-ec\",\"crit\":[\"x\"],\"x\":1}") + "." + p[1] + "." + p[2] : string.Empty, "rejected: token header has crit; no extension is understood" },
        { "json serialization", _ => "{\"payload\":\"e30\",\"signatures\":[]}", "rejected: token uses the jws json serialization; only the compact serialization is allowed" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    [Trait("Spec", "JWT-SVID 3")]
    public void Validate_DefectiveToken_RejectedWithReason(string name, Func<Keys, string> mint, string expected)
    {
        var result = Validate(mint(_keys));

        Assert.True(result.ExitCode == 1, $"{name}: exit {result.ExitCode}: {result.Error}");
        Assert.Equal(expected + "\n", result.Error);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public void Validate_SubjectOfPaymentsSignedByPaymentsKey_Valid()
    {
        // Positive control of the forgery rows: the same claims signed by payments' own key.
        var token = Jose.Mint("ES256", "pay-ec", _keys.PaymentsEc, Claims(sub: "spiffe://payments.acme.corp/api"));

        var result = Validate(token);

        Assert.Equal((0, "spiffe://payments.acme.corp/api\n"), (result.ExitCode, result.Out));
    }

    [Fact]
    public void Validate_NoBundleForSubjectDomain_Rejected()
    {
        var token = Jose.Mint("ES256", "pay-ec", _keys.PaymentsEc, Claims(sub: "spiffe://payments.acme.corp/api"));

        var result = Validate(token, "payments", "acme.corp=acme.json");

        Assert.Equal((1, "rejected: no jwt bundle for trust domain \"payments.acme.corp\"\n"), (result.ExitCode, result.Error));
    }

    [Fact]
    public void Validate_TokenFromFileAndAt_HonoursBoth()
    {
        var token = Jose.Mint("ES256", "acme-ec", _keys.AcmeEc, Claims(expIn: 300));
        File.WriteAllText(PathOf("token.jwt"), token + "\n");

        var valid = Validate("@" + PathOf("token.jwt"));
        var later = CliRunner.Run(_time, "jwt", "validate", "--token", "@" + PathOf("token.jwt"), "--audience", "payments",
            "--bundle", "acme.corp=" + PathOf("acme.json"), "--at", "2030-01-01T01:00:00Z");

        Assert.Equal(0, valid.ExitCode);
        Assert.Equal((1, "rejected: token has expired\n"), (later.ExitCode, later.Error));
    }

    [Fact]
    public void Validate_MissingTokenFile_ExitsTwo()
    {
        var result = Validate("@" + PathOf("absent.jwt"));

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: token file {PathOf("absent.jwt")}: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ErrorOutput_NeverContainsTheToken()
    {
        var token = Jose.Mint("ES256", "acme-ec", _keys.AcmeEc, Claims(aud: "billing"));

        var result = Validate(token);

        Assert.Equal(1, result.ExitCode);
        Assert.DoesNotContain(token.Split('.')[2], result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Split('.')[1], result.Error, StringComparison.Ordinal);
    }
}
