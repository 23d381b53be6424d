using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Xunit;

namespace Anchorage.Testing;

/// <summary>Calls tests/interop/node/jose-tool.mjs (npm's jose) as an independent producer and verifier.</summary>
public static class Jose
{
    public static string Mint(string alg, string? kid, AsymmetricAlgorithm key, JsonObject claims, string? typ = null)
    {
        var request = new JsonObject
        {
            ["alg"] = alg,
            ["privateKeyPem"] = key.ExportPkcs8PrivateKeyPem(),
            ["claims"] = claims.DeepClone(),
        };
        if (kid is not null)
        {
            request["kid"] = kid;
        }

        if (typ is not null)
        {
            request["typ"] = typ;
        }

        var answer = JsonNode.Parse(Call("mint", request))!;
        return answer["token"]!.GetValue<string>();
    }

    public static JsonObject Verify(string token, IEnumerable<JwtAuthority> authorities, string audience, DateTimeOffset now)
    {
        var keys = new JsonArray();
        foreach (var authority in authorities)
        {
            keys.Add(ToJwk(authority));
        }

        var request = new JsonObject
        {
            ["token"] = token,
            ["jwks"] = new JsonObject { ["keys"] = keys },
            ["audience"] = audience,
            ["currentDate"] = now.ToUnixTimeSeconds(),
        };
        return (JsonObject)JsonNode.Parse(Call("verify", request))!;
    }

    private static JsonObject ToJwk(JwtAuthority authority)
    {
        if (authority.Ecdsa is { } ec)
        {
            var p = ec.ExportParameters(false);
            var crv = ec.KeySize switch { 256 => "P-256", 384 => "P-384", _ => "P-521" };
            return new JsonObject
            {
                ["kty"] = "EC",
                ["kid"] = authority.KeyId,
                ["crv"] = crv,
                ["x"] = Base64Url.EncodeToString(p.Q.X!),
                ["y"] = Base64Url.EncodeToString(p.Q.Y!),
            };
        }

        var r = authority.Rsa!.ExportParameters(false);
        return new JsonObject
        {
            ["kty"] = "RSA",
            ["kid"] = authority.KeyId,
            ["n"] = Base64Url.EncodeToString(r.Modulus!),
            ["e"] = Base64Url.EncodeToString(r.Exponent!),
        };
    }

    private static string Call(string command, JsonObject request)
    {
        var dir = Path.Combine(Processes.RepoRoot(), "tests", "interop", "node");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "jose")))
        {
            Assert.Fail("npm's jose is not installed for the interop tests: run `npm ci --prefix tests/interop/node` from the repository root");
        }

        return Processes.RunWithInput("node", request.ToJsonString(), Path.Combine(dir, "jose-tool.mjs"), command);
    }
}
