using System.Buffers.Text;
using System.Text;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Tests.Svids;

/// <summary>Inputs found by fuzz/run jwt-svid: invalid UTF-8 inside a JSON string threw InvalidOperationException.</summary>
public sealed class JwtSvidValidatorFuzzRegressionTests
{
    private const string Audience = "svc";

    [Theory]
    [Trait("Spec", "JWT-SVID 5.1")]
    [InlineData("header", "{\"alg\":\"ES256\",\"kid\":\"k1\",\"\u0001\":1}", "token header is not valid UTF-8")]
    [InlineData("payload", "{\"sub\":\"spiffe://a/x\",\"aud\":\"svc\",\"exp\":1893456000,\"\u0001\":1}", "token payload is not valid UTF-8")]
    public void Validate_InvalidUtf8InsideJsonString_RejectedAndControlPasses(string part, string json, string message)
    {
        var kit = new JwtKit();
        var good = kit.Token();
        Assert.Equal(kit.Id, kit.Validator().Validate(good, Audience, kit.Bundles).Id); // positive control on the same fixture

        // \u0001 stands for the byte 0x84, a UTF-8 continuation byte with no lead byte.
        var bytes = Encoding.UTF8.GetBytes(json).Select(b => b == 0x01 ? (byte)0x84 : b).ToArray();
        var parts = good.Split('.');
        parts[part == "header" ? 0 : 1] = Base64Url.EncodeToString(bytes);

        var e = Assert.Throws<SvidValidationException>(() => kit.Validator().Validate(string.Join('.', parts), Audience, kit.Bundles));
        Assert.Equal(message, e.Message);
    }
}
