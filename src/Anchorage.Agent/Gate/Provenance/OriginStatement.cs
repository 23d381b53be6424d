using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Anchorage.Agent.Gate.Provenance;

/// <summary>
/// An origin statement on the wire: a JWS compact serialization (RFC 7515) with protected header
/// <c>{"alg":"ES256","typ":"anchorage-origin+jws"}</c> and the <see cref="OriginClaims"/> as a
/// JSON payload, signed with the sending agent's X.509-SVID key (P-256, the signature as R||S,
/// RFC 7518 §3.4). docs/gate-transport.md names every member.
/// </summary>
internal static class OriginStatement
{
    /// <summary>The <c>typ</c> of the protected header.</summary>
    public const string Type = "anchorage-origin+jws";

    /// <summary>The longest statement read (the header field carrying it is refused above this).</summary>
    public const int MaxLength = 8 * 1024;

    private static readonly string Header = Base64Url.EncodeToString("{\"alg\":\"ES256\",\"typ\":\"anchorage-origin+jws\"}"u8);

    /// <summary>Signs <paramref name="claims"/> with <paramref name="key"/> (a P-256 private key).</summary>
    public static string Sign(OriginClaims claims, ECDsa key)
    {
        var payload = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("cid", claims.ConnectionId);
            writer.WriteString("agent", claims.AgentId);
            writer.WriteString("sub", claims.Subject);
            writer.WriteNumber("pid", claims.Pid);
            if (claims.Exe is not null)
            {
                writer.WriteString("exe", claims.Exe);
            }

            if (claims.Sha256 is not null)
            {
                writer.WriteString("sha256", claims.Sha256);
            }

            writer.WriteNumber("uid", claims.Uid);
            writer.WriteNumber("gid", claims.Gid);
            writer.WriteNumber("start", claims.StartTime);
            writer.WriteNumber("iat", claims.IssuedAtMs);
            writer.WriteString("cli", claims.Binding.ClientLeaf);
            writer.WriteString("srv", claims.Binding.ServerLeaf);
            writer.WriteString("nonce", claims.Binding.Nonce);
            writer.WriteEndObject();
        }

        var signingInput = Header + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Checks the signature with <paramref name="key"/> (the agent's public key) and reads the claims.</summary>
    /// <exception cref="ProvenanceException">Malformed, not ES256, or the signature does not verify.</exception>
    public static OriginClaims Read(string statement, ECDsa key)
    {
        if (statement.Length > MaxLength)
        {
            throw new ProvenanceException($"the origin statement is longer than {MaxLength} characters");
        }

        var parts = statement.Split('.');
        if (parts.Length != 3)
        {
            throw new ProvenanceException("the origin statement is not a JWS compact serialization");
        }

        byte[] header;
        byte[] payload;
        byte[] signature;
        try
        {
            header = Base64Url.DecodeFromChars(parts[0]);
            payload = Base64Url.DecodeFromChars(parts[1]);
            signature = Base64Url.DecodeFromChars(parts[2]);
        }
        catch (FormatException)
        {
            throw new ProvenanceException("the origin statement is not base64url");
        }

        try
        {
            using (var protectedHeader = JsonDocument.Parse(header))
            {
                var root = protectedHeader.RootElement;
                if (root.ValueKind != JsonValueKind.Object || Text(root, "alg") != "ES256" || Text(root, "typ") != Type || root.EnumerateObject().Count() != 2)
                {
                    throw new ProvenanceException("the origin statement's header is not {\"alg\":\"ES256\",\"typ\":\"" + Type + "\"}");
                }
            }

            var signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
            if (signature.Length != 64 || !key.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                throw new ProvenanceException("the origin statement's signature does not verify with the sending agent's key");
            }

            using var document = JsonDocument.Parse(payload);
            var claims = document.RootElement;
            return new OriginClaims
            {
                ConnectionId = Required(claims, "cid"),
                AgentId = Required(claims, "agent"),
                Subject = Required(claims, "sub"),
                Pid = claims.GetProperty("pid").GetInt32(),
                Exe = Text(claims, "exe"),
                Sha256 = Text(claims, "sha256"),
                Uid = claims.GetProperty("uid").GetUInt32(),
                Gid = claims.GetProperty("gid").GetUInt32(),
                StartTime = claims.GetProperty("start").GetUInt64(),
                IssuedAtMs = claims.GetProperty("iat").GetInt64(),
                Binding = new TunnelBinding(Required(claims, "cli"), Required(claims, "srv"), Required(claims, "nonce")),
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new ProvenanceException("the origin statement's claims are malformed: " + e.Message);
        }
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Required(JsonElement element, string name) =>
        Text(element, name) ?? throw new ProvenanceException($"the origin statement has no \"{name}\"");
}
