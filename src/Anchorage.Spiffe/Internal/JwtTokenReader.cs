using System.Buffers;
using System.Buffers.Text;
using System.Collections.Immutable;
using System.Text.Json;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Internal;

/// <summary>
/// Reads the parts of a JWT-SVID in JWS compact serialization: the header (JWT-SVID §2) and the
/// claims (§3) as strict JSON objects, and base64url without padding in its one canonical form.
/// Every failure is a <see cref="SvidValidationException"/>; <see cref="JwtSvidValidator"/> owns
/// the order of the checks and the signature.
/// </summary>
internal static class JwtTokenReader
{
    /// <summary>The base64url alphabet, without padding.</summary>
    public static readonly SearchValues<char> Base64UrlAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 32 };
    private static readonly JsonDocumentOptions LenientJson = new() { MaxDepth = 32 };

    public static Header ReadHeader(ReadOnlySpan<char> part)
    {
        var rented = DecodePart(part, "header");
        try
        {
            using var document = ParseObject(rented.AsMemory(), "header", "member");

            // JWT-SVID §2.1, §4: alg is decided before any other header is looked at.
            var root = document.RootElement;
            if (!root.TryGetProperty("alg"u8, out var algElement))
            {
                throw Fail("token header has no alg");
            }

            if (algElement.ValueKind != JsonValueKind.String)
            {
                throw Fail("token alg must be a string");
            }

            var alg = algElement.GetString()!;
            if (!JwtAlgorithm.TryGet(alg, out var algorithm))
            {
                throw Fail($"token alg \"{TrustDomain.Printable(alg)}\" is not allowed");
            }

            // JWT-SVID §2: crit names extensions that must be understood; none is.
            if (root.TryGetProperty("crit"u8, out _))
            {
                throw Fail("token header has crit; no extension is understood");
            }

            string? keyId = null;
            foreach (var member in root.EnumerateObject())
            {
                if (member.NameEquals("alg"u8))
                {
                    continue;
                }

                if (member.NameEquals("kid"u8))
                {
                    // JWT-SVID §2.2.
                    if (member.Value.ValueKind != JsonValueKind.String || member.Value.ValueEquals(""u8))
                    {
                        throw Fail("token kid must be a non-empty string");
                    }

                    keyId = member.Value.GetString();
                }
                else if (member.NameEquals("typ"u8))
                {
                    // JWT-SVID §2.3.
                    if (member.Value.ValueKind != JsonValueKind.String)
                    {
                        throw Fail("token typ must be a string");
                    }

                    if (!member.Value.ValueEquals("JWT"u8) && !member.Value.ValueEquals("JOSE"u8))
                    {
                        throw Fail($"token typ \"{TrustDomain.Printable(member.Value.GetString())}\" is not allowed; use JWT or JOSE");
                    }
                }
                else
                {
                    // JWT-SVID §2: any header not described there MUST NOT be included.
                    throw Fail($"token header \"{TrustDomain.Printable(member.Name)}\" is not allowed");
                }
            }

            return new Header(algorithm, keyId);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented.Array!);
        }
    }

    public static Claims ReadClaims(ReadOnlySpan<char> part)
    {
        var rented = DecodePart(part, "payload");
        try
        {
            JsonElement root;
            using (var document = ParseObject(rented.AsMemory(), "payload", "claim"))
            {
                root = document.RootElement.Clone();
            }

            // JWT-SVID §3.1.
            if (!root.TryGetProperty("sub"u8, out var sub))
            {
                throw Fail("token has no sub");
            }

            if (sub.ValueKind != JsonValueKind.String)
            {
                throw Fail("token sub must be a string");
            }

            var subText = sub.GetString()!;
            if (!SpiffeId.TryParse(subText, out var subject, out var subError))
            {
                throw Fail($"token sub is not a spiffe id: {subError}");
            }

            // JWT-SVID §3.2.
            if (!root.TryGetProperty("aud"u8, out var aud))
            {
                throw Fail("token has no aud");
            }

            ImmutableArray<string> audience;
            if (aud.ValueKind == JsonValueKind.String)
            {
                audience = [aud.GetString()!];
            }
            else if (aud.ValueKind == JsonValueKind.Array)
            {
                var builder = ImmutableArray.CreateBuilder<string>(aud.GetArrayLength());
                foreach (var item in aud.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw Fail("token aud must be a string or an array of strings");
                    }

                    builder.Add(item.GetString()!);
                }

                if (builder.Count == 0)
                {
                    throw Fail("token aud is empty");
                }

                audience = builder.MoveToImmutable();
            }
            else
            {
                throw Fail("token aud must be a string or an array of strings");
            }

            // JWT-SVID §3.3.
            var expiry = ReadNumericDate(root, "exp"u8, "exp") ?? throw Fail("token has no exp");
            var notBefore = ReadNumericDate(root, "nbf"u8, "nbf");
            var issuedAt = ReadNumericDate(root, "iat"u8, "iat");
            return new Claims(subject, audience, expiry, notBefore, issuedAt, root);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented.Array!);
        }
    }

    /// <summary>Reads an RFC 7519 §2 NumericDate (seconds since the epoch, fractions allowed).</summary>
    private static DateTimeOffset? ReadNumericDate(JsonElement root, ReadOnlySpan<byte> utf8Name, string name)
    {
        if (!root.TryGetProperty(utf8Name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || !double.IsFinite(seconds))
        {
            throw Fail($"token {name} must be a numeric date");
        }

        const double maxSeconds = 253402300799; // 9999-12-31T23:59:59Z
        const double minSeconds = -62135596800; // 0001-01-01T00:00:00Z
        if (seconds >= maxSeconds)
        {
            return DateTimeOffset.MaxValue;
        }

        if (seconds <= minSeconds)
        {
            return DateTimeOffset.MinValue;
        }

        return DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
    }

    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        try
        {
            return Base64Url.TryDecodeFromChars(text, destination, out written);
        }
        catch (FormatException)
        {
            // Also raised for non-zero padding bits in the last character.
            written = 0;
            return false;
        }
    }

    public static bool IsCanonical(ReadOnlySpan<char> text, ReadOnlySpan<byte> decoded)
    {
        Span<char> again = stackalloc char[Base64Url.GetEncodedLength(decoded.Length)];
        return Base64Url.TryEncodeToChars(decoded, again, out var written) && again[..written].SequenceEqual(text);
    }

    /// <summary>Decodes a base64url part into a pooled array (the segment is exactly the bytes).</summary>
    private static ArraySegment<byte> DecodePart(ReadOnlySpan<char> part, string what)
    {
        if (part.IsEmpty || part.ContainsAnyExcept(Base64UrlAlphabet))
        {
            throw Fail($"token {what} is not base64url");
        }

        var rented = ArrayPool<byte>.Shared.Rent(Base64Url.GetMaxDecodedLength(part.Length));
        if (!TryDecode(part, rented, out var written))
        {
            ArrayPool<byte>.Shared.Return(rented);
            throw Fail($"token {what} is not base64url");
        }

        return new ArraySegment<byte>(rented, 0, written);
    }

    /// <summary>Parses a JSON object, rejecting duplicate members at any depth (RFC 7515 §4, RFC 7519 §4).</summary>
    private static JsonDocument ParseObject(ReadOnlyMemory<byte> json, string what, string memberWord)
    {
        // RFC 7519 §7.2 step 8: the decoded header and payload are UTF-8. JsonDocument does not check
        // the bytes inside strings, and reading such a string later would throw InvalidOperationException.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
        {
            throw Fail($"token {what} is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, StrictJson);
        }
        catch (JsonException)
        {
            throw Fail(DescribeBadJson(json, what, memberWord));
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw Fail($"token {what} is not a json object");
        }

        return document;
    }

    /// <summary>Names a repeated top-level member when that is why strict parsing failed.</summary>
    private static string DescribeBadJson(ReadOnlyMemory<byte> json, string what, string memberWord)
    {
        try
        {
            using var lenient = JsonDocument.Parse(json, LenientJson);
            if (lenient.RootElement.ValueKind == JsonValueKind.Object)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in lenient.RootElement.EnumerateObject())
                {
                    if (!seen.Add(member.Name))
                    {
                        return $"token {what} repeats {memberWord} \"{TrustDomain.Printable(member.Name)}\"";
                    }
                }

                return $"token {what} repeats a member inside a {memberWord}";
            }
        }
        catch (JsonException)
        {
        }

        return $"token {what} is not valid json";
    }

    private static SvidValidationException Fail(string message) => new(message);

    internal sealed record Header(JwtAlgorithm.Info Algorithm, string? KeyId);

    internal sealed record Claims(
        SpiffeId Subject,
        ImmutableArray<string> Audience,
        DateTimeOffset Expiry,
        DateTimeOffset? NotBefore,
        DateTimeOffset? IssuedAt,
        JsonElement Element);
}
