using System.Buffers;
using System.Buffers.Text;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// A JWT-SVID (JWT-SVID §1): a JWS-signed JWT whose <c>sub</c> is a SPIFFE ID. Instances come
/// from <see cref="JwtSvidValidator.Validate"/> (signature and claims checked) or from
/// <see cref="ParseInsecure"/> (claims checked, signature NOT checked); tokens are made with
/// <see cref="Mint"/>.
/// </summary>
/// <remarks>
/// The token is a bearer credential: <see cref="ToString"/> never includes it, and no exception
/// message of this library quotes it.
/// </remarks>
public sealed class JwtSvid
{
    /// <summary>The claims <see cref="Mint"/> sets itself; extra claims may not name them.</summary>
    private static readonly string[] ReservedClaims = ["sub", "aud", "exp", "iat"];

    internal JwtSvid(
        SpiffeId id,
        ImmutableArray<string> audience,
        DateTimeOffset expiry,
        DateTimeOffset? issuedAt,
        DateTimeOffset? notBefore,
        string? keyId,
        string token,
        JsonElement claims,
        string? hint)
    {
        Id = id;
        Audience = audience;
        Expiry = expiry;
        IssuedAt = issuedAt;
        NotBefore = notBefore;
        KeyId = keyId;
        Token = token;
        Claims = claims;
        Hint = hint;
    }

    /// <summary>The SPIFFE ID in the <c>sub</c> claim (JWT-SVID §3.1).</summary>
    public SpiffeId Id { get; }

    /// <summary>The <c>aud</c> claim as a list, one element when it was a string (JWT-SVID §3.2).</summary>
    public ImmutableArray<string> Audience { get; }

    /// <summary>The <c>exp</c> claim (JWT-SVID §3.3).</summary>
    public DateTimeOffset Expiry { get; }

    /// <summary>The <c>iat</c> claim, when present.</summary>
    public DateTimeOffset? IssuedAt { get; }

    /// <summary>The <c>nbf</c> claim, when present.</summary>
    public DateTimeOffset? NotBefore { get; }

    /// <summary>The <c>kid</c> header (JWT-SVID §2.2), null when the token has none.</summary>
    public string? KeyId { get; }

    /// <summary>The token in JWS compact serialization, as received or minted.</summary>
    public string Token { get; }

    /// <summary>Every claim of the payload as a JSON object (a standalone clone, safe to keep).</summary>
    public JsonElement Claims { get; }

    /// <summary>The Workload API hint that came with the token, if any (not part of the token).</summary>
    public string? Hint { get; }

    /// <summary>The same SVID with <see cref="Hint"/> set to <paramref name="hint"/>.</summary>
    public JwtSvid WithHint(string? hint) =>
        new(Id, Audience, Expiry, IssuedAt, NotBefore, KeyId, Token, Claims, hint);

    /// <summary>
    /// Parses a token and checks everything <see cref="JwtSvidValidator.Validate"/> checks except
    /// the signature and the bundle: use it only for tokens that came over a channel that is
    /// already trusted (for example the SPIFFE Workload API's own responses).
    /// </summary>
    /// <param name="token">The token in JWS compact serialization.</param>
    /// <param name="audience">An audience the token must contain.</param>
    /// <param name="timeProvider">The clock for <c>exp</c>/<c>nbf</c>/<c>iat</c>; the system clock when null.</param>
    /// <param name="leeway">Clock-skew allowance; <see cref="JwtSvidValidator.DefaultLeeway"/> when null.</param>
    /// <exception cref="ArgumentException">The token is null or the audience is empty.</exception>
    /// <exception cref="SvidValidationException">The token is malformed or breaks a rule of JWT-SVID.</exception>
    public static JwtSvid ParseInsecure(string token, string audience, TimeProvider? timeProvider = null, TimeSpan? leeway = null) =>
        new JwtSvidValidator(timeProvider, leeway).ValidateCore(token, audience, bundles: null);

    /// <summary>
    /// Mints a JWT-SVID. The header is <c>{"alg","kid","typ":"JWT"}</c> (JWT-SVID §2); the
    /// claims are <c>sub</c>, <c>aud</c> (a string for one audience, an array for several, as
    /// SPIRE emits), <c>exp</c> and <c>iat</c> (whole seconds, JWT-SVID §3), then the extra claims.
    /// </summary>
    /// <param name="subject">The workload's SPIFFE ID.</param>
    /// <param name="audience">One or more audiences; one is strongly recommended (JWT-SVID §6.2).</param>
    /// <param name="expiry">The expiry; must be after the current time.</param>
    /// <param name="key">The signing key.</param>
    /// <param name="timeProvider">The clock for <c>iat</c>; the system clock when null.</param>
    /// <param name="extraClaims">Further claims. Values may be null, string, bool, an integer or
    /// floating-point number, <see cref="DateTimeOffset"/> (written as a NumericDate),
    /// <see cref="JsonElement"/>, or a sequence of strings.</param>
    /// <exception cref="ArgumentException">The subject or audience is empty, the expiry is not in
    /// the future, or an extra claim names a reserved claim or has an unsupported value type.</exception>
    public static string Mint(
        SpiffeId subject,
        IReadOnlyList<string> audience,
        DateTimeOffset expiry,
        JwtSigningKey key,
        TimeProvider? timeProvider = null,
        IReadOnlyDictionary<string, object?>? extraClaims = null)
    {
        if (subject.IsEmpty)
        {
            throw new ArgumentException("subject is empty", nameof(subject));
        }

        ArgumentNullException.ThrowIfNull(audience);
        ArgumentNullException.ThrowIfNull(key);
        if (audience.Count == 0)
        {
            throw new ArgumentException("at least one audience is required", nameof(audience));
        }

        foreach (var value in audience)
        {
            if (string.IsNullOrEmpty(value))
            {
                throw new ArgumentException("an audience is empty", nameof(audience));
            }
        }

        var now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        var exp = expiry.ToUnixTimeSeconds();
        var iat = now.ToUnixTimeSeconds();
        if (exp <= iat)
        {
            throw new ArgumentOutOfRangeException(nameof(expiry), "expiry must be at least one second after the current time");
        }

        var header = new ArrayBufferWriter<byte>(96);
        using (var writer = new Utf8JsonWriter(header))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", key.Algorithm);
            writer.WriteString("kid", key.KeyId);
            writer.WriteString("typ", "JWT");
            writer.WriteEndObject();
        }

        var payload = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("sub", subject.ToString());
            if (audience.Count == 1)
            {
                writer.WriteString("aud", audience[0]);
            }
            else
            {
                writer.WriteStartArray("aud");
                foreach (var value in audience)
                {
                    writer.WriteStringValue(value);
                }

                writer.WriteEndArray();
            }

            writer.WriteNumber("exp", exp);
            writer.WriteNumber("iat", iat);
            if (extraClaims is not null)
            {
                foreach (var (name, value) in extraClaims)
                {
                    if (string.IsNullOrEmpty(name) || Array.IndexOf(ReservedClaims, name) >= 0)
                    {
                        throw new ArgumentException($"extra claim \"{name}\" is empty or reserved", nameof(extraClaims));
                    }

                    writer.WritePropertyName(name);
                    WriteClaimValue(writer, name, value);
                }
            }

            writer.WriteEndObject();
        }

        var signingInput = Base64Url.EncodeToString(header.WrittenSpan) + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        var signature = key.Sign(Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>Names the subject, audience and expiry; never the token.</summary>
    public override string ToString() =>
        $"{Id} aud=[{string.Join(",", Audience)}] exp={Expiry:O}";

    private static void WriteClaimValue(Utf8JsonWriter writer, string name, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case double d when double.IsFinite(d):
                writer.WriteNumberValue(d);
                break;
            case decimal m:
                writer.WriteNumberValue(m);
                break;
            case DateTimeOffset t:
                writer.WriteNumberValue(t.ToUnixTimeSeconds());
                break;
            case JsonElement e:
                e.WriteTo(writer);
                break;
            case IEnumerable<string> strings:
                writer.WriteStartArray();
                foreach (var s in strings)
                {
                    writer.WriteStringValue(s);
                }

                writer.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"extra claim \"{name}\" has an unsupported value type {value.GetType().Name}", nameof(value));
        }
    }
}
