using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Anchorage.Testing.Bundles;

/// <summary>
/// Writes SPIFFE bundle JWKs by hand, independently of the product's writer, so tests can feed the
/// parser documents with one defect at a time.
/// </summary>
public static class JwkJson
{
    /// <summary>An x509-svid JWK for <paramref name="certificate"/>: use, kty, key parameters, one x5c.</summary>
    public static JsonObject X509Key(X509Certificate2 certificate)
    {
        var key = (AsymmetricAlgorithm?)certificate.GetECDsaPublicKey() ?? certificate.GetRSAPublicKey()
            ?? throw new ArgumentException("certificate key is neither EC nor RSA", nameof(certificate));
        using (key)
        {
            var jwk = new JsonObject { ["use"] = "x509-svid" };
            AddKeyParameters(jwk, key);
            jwk["x5c"] = new JsonArray(Convert.ToBase64String(certificate.RawData));
            return jwk;
        }
    }

    /// <summary>A jwt-svid JWK: use, kid, key parameters.</summary>
    public static JsonObject JwtKey(string keyId, AsymmetricAlgorithm key)
    {
        var jwk = new JsonObject { ["use"] = "jwt-svid", ["kid"] = keyId };
        AddKeyParameters(jwk, key);
        return jwk;
    }

    /// <summary>Adds kty and crv/x/y or n/e (RFC 7518 §6) of the public part of <paramref name="key"/>.</summary>
    public static void AddKeyParameters(JsonObject jwk, AsymmetricAlgorithm key)
    {
        switch (key)
        {
            case ECDsa ec:
                var p = ec.ExportParameters(false);
                jwk["kty"] = "EC";
                jwk["crv"] = p.Curve.Oid.Value switch
                {
                    "1.2.840.10045.3.1.7" => "P-256",
                    "1.3.132.0.34" => "P-384",
                    "1.3.132.0.35" => "P-521",
                    var other => throw new ArgumentException($"curve {other} has no JWK name", nameof(key)),
                };
                jwk["x"] = B64Url(p.Q.X!);
                jwk["y"] = B64Url(p.Q.Y!);
                break;
            case RSA rsa:
                var r = rsa.ExportParameters(false);
                jwk["kty"] = "RSA";
                jwk["n"] = B64Url(r.Modulus!);
                jwk["e"] = B64Url(r.Exponent!);
                break;
            default:
                throw new ArgumentException("unsupported key", nameof(key));
        }
    }

    /// <summary>A bundle document <c>{"keys": [...]}</c> plus any extra top-level members.</summary>
    public static JsonObject Bundle(params JsonNode?[] keys) => new() { ["keys"] = new JsonArray(keys) };

    /// <summary>The UTF-8 bytes of <paramref name="node"/>.</summary>
    public static byte[] Utf8(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node);

    /// <summary>Unpadded base64url (RFC 7515 §2).</summary>
    public static string B64Url(ReadOnlySpan<byte> bytes) => Base64Url.EncodeToString(bytes);
}
