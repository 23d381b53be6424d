using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// Reads a SPIFFE bundle JWK Set (SPIFFE_Trust_Domain_and_Bundle §4, X509-SVID §6.2, JWT-SVID §6.2).
/// Lenient where the standards say "ignore", strict where the input is malformed: see
/// <see cref="SpiffeBundle.Parse(TrustDomain, ReadOnlySpan{byte}, out IReadOnlyList{string})"/>.
/// </summary>
internal static class BundleJsonReader
{
    internal const string X509SvidUse = "x509-svid";
    internal const string JwtSvidUse = "jwt-svid";

    // Parameters that only a private JWK carries (RFC 7518 §6.2.2, §6.3.2). A bundle that publishes
    // them has leaked its signing key: trusting that key would let anyone mint SVIDs.
    private static readonly string[] PrivateMembers = ["d", "p", "q", "dp", "dq", "qi", "oth"];

    internal static SpiffeBundle Read(TrustDomain trustDomain, ReadOnlySpan<byte> utf8Json, List<string> warnings)
    {
        if (utf8Json.Length > SpiffeBundle.MaxSize)
        {
            throw new FormatException($"bundle is larger than {SpiffeBundle.MaxSize} bytes");
        }

        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        // RFC 8259 §8.1: JSON exchanged between systems is UTF-8. JsonDocument does not check the bytes
        // inside strings, and reading such a string later would throw InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(utf8Json))
        {
            throw new FormatException("bundle is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line
                ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {ex.BytePositionInLine + 1})")
                : string.Empty;
            throw new FormatException($"bundle is not valid JSON{where}", ex);
        }

        using (document)
        {
            return ReadRoot(trustDomain, document.RootElement, warnings);
        }
    }

    private static SpiffeBundle ReadRoot(TrustDomain trustDomain, JsonElement root, List<string> warnings)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("bundle must be a JSON object");
        }

        CheckNoDuplicates(root, string.Empty);
        ulong? sequence = null;
        TimeSpan? refreshHint = null;
        if (root.TryGetProperty("spiffe_sequence", out var seq) && seq.ValueKind != JsonValueKind.Null)
        {
            if (seq.ValueKind != JsonValueKind.Number || !seq.TryGetUInt64(out var value))
            {
                throw new FormatException("\"spiffe_sequence\" must be an unsigned 64-bit integer");
            }

            sequence = value;
        }

        if (root.TryGetProperty("spiffe_refresh_hint", out var hint) && hint.ValueKind != JsonValueKind.Null)
        {
            if (hint.ValueKind != JsonValueKind.Number || !hint.TryGetInt64(out var seconds) ||
                seconds < 0 || seconds > TimeSpan.MaxValue.Ticks / TimeSpan.TicksPerSecond)
            {
                throw new FormatException("\"spiffe_refresh_hint\" must be a non-negative integer number of seconds");
            }

            refreshHint = TimeSpan.FromSeconds(seconds);
        }

        // SPIFFE_Trust_Domain_and_Bundle §4.1.3: "keys" MUST be present. An empty array is valid.
        if (!root.TryGetProperty("keys", out var keys) || keys.ValueKind == JsonValueKind.Null)
        {
            throw new FormatException("bundle has no \"keys\" member");
        }

        if (keys.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("\"keys\" must be an array");
        }

        if (keys.GetArrayLength() > SpiffeBundle.MaxKeys)
        {
            throw new FormatException($"\"keys\" has more than {SpiffeBundle.MaxKeys} entries");
        }

        var x509 = new List<X509Certificate2>();
        var x509Index = new List<int>();
        var jwt = new List<JwtAuthority>();
        var jwtIndex = new Dictionary<string, (int Index, JwtAuthority Authority)>(StringComparer.Ordinal);
        try
        {
            ReadKeys(keys, warnings, x509, x509Index, jwt, jwtIndex);
        }
        catch
        {
            // Certificates already loaded are not handed out on failure; release them now.
            x509.ForEach(c => c.Dispose());
            throw;
        }

        return new SpiffeBundle(trustDomain, x509, jwt, sequence, refreshHint);
    }

    private static void ReadKeys(
        JsonElement keys,
        List<string> warnings,
        List<X509Certificate2> x509,
        List<int> x509Index,
        List<JwtAuthority> jwt,
        Dictionary<string, (int Index, JwtAuthority Authority)> jwtIndex)
    {
        var index = 0;
        foreach (var key in keys.EnumerateArray())
        {
            var at = $"keys[{index}]";
            ReadKey(key, at, warnings, out var certificate, out var authority);
            if (certificate is not null)
            {
                var earlier = x509.FindIndex(c => c.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span));
                if (earlier >= 0)
                {
                    warnings.Add($"{at}: duplicate of keys[{x509Index[earlier]}]; ignored");
                    certificate.Dispose();
                }
                else
                {
                    x509.Add(certificate);
                    x509Index.Add(index);
                }
            }
            else if (authority is not null)
            {
                if (jwtIndex.TryGetValue(authority.KeyId, out var first))
                {
                    // Same kid, same key: a harmless repeat. Same kid, another key: which key signs
                    // a token with that kid would depend on the reader, so the bundle is refused.
                    if (!first.Authority.SameAs(authority))
                    {
                        throw new FormatException(
                            $"{at}: key id \"{TrustDomain.Printable(authority.KeyId)}\" is also used by keys[{first.Index}] for a different key");
                    }

                    warnings.Add($"{at}: duplicate of keys[{first.Index}]; ignored");
                }
                else
                {
                    jwtIndex.Add(authority.KeyId, (index, authority));
                    jwt.Add(authority);
                }
            }

            index++;
        }
    }

    private static void ReadKey(JsonElement key, string at, List<string> warnings, out X509Certificate2? certificate, out JwtAuthority? authority)
    {
        certificate = null;
        authority = null;
        if (key.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{at}: a key must be a JSON object");
        }

        CheckNoDuplicates(key, at + ": ");

        // SPIFFE_Trust_Domain_and_Bundle §4.2.2: unknown (or missing) use -> ignore the JWK.
        var use = OptionalString(key, "use", at);
        if (use is null)
        {
            warnings.Add($"{at}: key has no \"use\"; ignored");
            return;
        }

        if (use is not (X509SvidUse or JwtSvidUse))
        {
            warnings.Add($"{at}: key use \"{TrustDomain.Printable(use)}\" is not supported; ignored");
            return;
        }

        // §4.2.1: unknown key type -> ignore the JWK. "oct" (a shared secret) lands here, so a
        // symmetric key can never become a JWT authority.
        var kty = OptionalString(key, "kty", at);
        if (kty is null)
        {
            warnings.Add($"{at}: key has no \"kty\"; ignored");
            return;
        }

        if (kty is not (Jwk.KtyEc or Jwk.KtyRsa))
        {
            warnings.Add($"{at}: key type \"{TrustDomain.Printable(kty)}\" is not supported; ignored");
            return;
        }

        foreach (var member in PrivateMembers)
        {
            if (key.TryGetProperty(member, out _))
            {
                throw new FormatException($"{at}: key contains private key parameter \"{member}\"");
            }
        }

        var kid = OptionalString(key, "kid", at);
        var x5c = ReadX5c(key, at);
        if (use == X509SvidUse)
        {
            // X509-SVID §6.2: no x5c, or an empty one -> ignore; several -> use the first.
            if (x5c is null || x5c.Count == 0)
            {
                warnings.Add($"{at}: x509-svid key has {(x5c is null ? "no" : "an empty")} x5c; ignored");
                return;
            }

            if (x5c.Count > 1)
            {
                warnings.Add(string.Create(CultureInfo.InvariantCulture, $"{at}: x509-svid key has {x5c.Count} x5c certificates; only the first is used"));
            }

            if (kid is not null)
            {
                // X509-SVID §6.1: kid MUST NOT be set by publishers; it carries no meaning here.
                warnings.Add($"{at}: x509-svid key has a \"kid\"; the kid is ignored");
            }
        }
        else if (string.IsNullOrEmpty(kid))
        {
            // JWT-SVID §6.1: kid MUST be set; a jwt-svid JWK without one cannot be addressed.
            warnings.Add($"{at}: jwt-svid key has no \"kid\"; ignored");
            return;
        }

        var jwk = ReadKeyParameters(key, kty, at, out var unsupported);
        if (jwk is null)
        {
            warnings.Add($"{at}: {unsupported}; ignored");
            return;
        }

        X509Certificate2? first = null;
        if (x5c is { Count: > 0 })
        {
            first = DecodeCertificate(x5c[0], at);

            // RFC 7517 §4.7: the first certificate's key MUST match the JWK's key. go-jose (and so
            // SPIRE and go-spiffe) refuse the whole JWK Set on a mismatch; so do we: one reader
            // trusting x/y and another trusting x5c must never see different authorities.
            var certKey = Jwk.FromSubjectPublicKeyInfo(first.PublicKey.ExportSubjectPublicKeyInfo(), out _);
            if (certKey is null || !certKey.SameKeyAs(jwk))
            {
                first.Dispose();
                throw new FormatException($"{at}: key parameters do not match the x5c certificate's public key");
            }
        }

        if (use == X509SvidUse)
        {
            certificate = first;
            return;
        }

        first?.Dispose();
        byte[] spki;
        try
        {
            spki = Jwk.ToSubjectPublicKeyInfo(jwk);
        }
        catch (CryptographicException ex)
        {
            throw new FormatException($"{at}: {kty} key is not a valid public key", ex);
        }

        authority = new JwtAuthority(kid!, spki);
    }

    /// <summary>The validated key parameters; null with <paramref name="unsupported"/> for a curve we do not know.</summary>
    private static JwkKey? ReadKeyParameters(JsonElement key, string kty, string at, out string? unsupported)
    {
        unsupported = null;
        if (kty == Jwk.KtyEc)
        {
            var crv = RequiredString(key, "crv", kty, at);
            var size = Jwk.CurveSize(crv);
            if (size == 0)
            {
                unsupported = $"EC curve \"{TrustDomain.Printable(crv)}\" is not supported";
                return null;
            }

            var x = RequiredBase64Url(key, "x", kty, at);
            var y = RequiredBase64Url(key, "y", kty, at);
            if (x.Length != size || y.Length != size)
            {
                // RFC 7518 §6.2.1.2/3: coordinates are the full field size, leading zeros kept.
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"{at}: \"{(x.Length != size ? "x" : "y")}\" must be {size} bytes for {crv}"));
            }

            var ec = JwkKey.Ec(crv, x, y);
            try
            {
                // Importing checks that the point is on the curve (an invalid-curve point is refused).
                Jwk.ToSubjectPublicKeyInfo(ec);
            }
            catch (CryptographicException ex)
            {
                throw new FormatException($"{at}: EC key is not a valid {crv} public key", ex);
            }

            return ec;
        }

        var n = Jwk.StripLeadingZeros(RequiredBase64Url(key, "n", kty, at));
        var e = Jwk.StripLeadingZeros(RequiredBase64Url(key, "e", kty, at));
        var error = Jwk.CheckRsa(n, e);
        if (error is not null)
        {
            throw new FormatException($"{at}: {error}");
        }

        return JwkKey.Rsa(n, e);
    }

    private static List<string>? ReadX5c(JsonElement key, string at)
    {
        if (!key.TryGetProperty("x5c", out var x5c) || x5c.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (x5c.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException($"{at}: \"x5c\" must be an array of strings");
        }

        var result = new List<string>();
        foreach (var item in x5c.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new FormatException($"{at}: \"x5c\" must be an array of strings");
            }

            result.Add(item.GetString()!);
        }

        return result;
    }

    private static X509Certificate2 DecodeCertificate(string base64, string at)
    {
        // RFC 7517 §4.7: x5c values are standard base64 (not base64url) of DER.
        var buffer = new byte[base64.Length];
        if (base64.Length == 0 || !Convert.TryFromBase64String(base64, buffer, out var written))
        {
            throw new FormatException($"{at}: x5c[0] is not valid base64");
        }

        return Der.LoadCertificate(buffer.AsSpan(0, written), $"{at}: x5c[0]");
    }

    private static string? OptionalString(JsonElement key, string name, string at)
    {
        if (!key.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"{at}: \"{name}\" must be a string");
        }

        return value.GetString();
    }

    private static string RequiredString(JsonElement key, string name, string kty, string at) =>
        OptionalString(key, name, at) ?? throw new FormatException($"{at}: {kty} key is missing \"{name}\"");

    private static byte[] RequiredBase64Url(JsonElement key, string name, string kty, string at)
    {
        var text = RequiredString(key, name, kty, at);
        if (text.Length == 0 || !Jwk.TryDecodeBase64Url(text, out var bytes))
        {
            throw new FormatException($"{at}: \"{name}\" is not valid base64url");
        }

        return bytes;
    }

    /// <summary>
    /// Refuses repeated member names: readers disagree on which copy wins (first, last, error),
    /// which is how two verifiers end up trusting different keys from one document.
    /// </summary>
    private static void CheckNoDuplicates(JsonElement element, string prefix)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                throw new FormatException($"{prefix}duplicate member \"{TrustDomain.Printable(property.Name)}\"");
            }
        }
    }
}
