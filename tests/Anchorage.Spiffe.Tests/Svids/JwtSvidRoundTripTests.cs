using System.Security.Cryptography;
using System.Text.Json;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing.Bundles;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Spiffe.Tests.Svids;

/// <summary>A minted JWT-SVID validates, with the same subject, audience, expiry and claims, until it expires.</summary>
public class JwtSvidRoundTripTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Key kind and the JWS algorithm minted with.</summary>
    private static readonly (TestKeyKind Kind, string? Alg)[] Signers =
    [
        (TestKeyKind.P256, null), (TestKeyKind.P384, null), (TestKeyKind.P521, null),
        (TestKeyKind.Rsa2048, "RS256"), (TestKeyKind.Rsa2048, "RS512"), (TestKeyKind.Rsa2048, "PS256"), (TestKeyKind.Rsa2048, "PS384"),
    ];

    private sealed record Case(SpiffeId Subject, string[] Audience, int LifetimeSeconds, int SignerIndex, string Kid, KeyValuePair<string, string>[] Claims, double At);

    private static Gen<string> TextGen(string alphabet, int max) =>
        Gen.Elements(alphabet.ToCharArray()).ArrayOf().Where(c => c.Length is > 0 && c.Length <= max).Select(c => new string(c));

    private static Gen<SpiffeId> SubjectGen =>
        from td in TextGen("abcdefghijklmnopqrstuvwxyz0123456789.-_", 30)
        from segments in TextGen("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", 12)
            .Where(s => s is not ("." or "..")).ArrayOf().Where(a => a.Length <= 5)
        select SpiffeId.FromSegments(TrustDomain.Parse(td), segments);

    // Audiences and claim values carry what JSON must escape and non-ASCII text.
    private static Gen<string> AnyTextGen => TextGen("az AZ09-_.:/\"\\\n\té鍵\u2028", 24);

    private static Gen<Case> CaseGen =>
        from subject in SubjectGen
        from audience in AnyTextGen.ArrayOf().Where(a => a.Length is > 0 and <= 3)
        from lifetime in Gen.Choose(1, 86_400)
        from signer in Gen.Choose(0, Signers.Length - 1)
        from kid in TextGen("abcXYZ019-_", 16)
        from claims in Gen.Zip(TextGen("abcdefghij_", 8).Where(n => n is not ("sub" or "aud" or "exp" or "iat")), AnyTextGen)
            .ArrayOf().Where(a => a.Length <= 3)
        from at in Gen.Choose(0, 999).Select(n => n / 1000.0)
        select new Case(subject, audience.Distinct().ToArray(), lifetime, signer, kid,
            claims.DistinctBy(c => c.Item1).Select(c => KeyValuePair.Create(c.Item1, c.Item2)).ToArray(), at);

    private static JwtSigningKey SigningKey(Case c)
    {
        var (kind, alg) = Signers[c.SignerIndex];
        return TestAuthorities.Key(kind) switch
        {
            ECDsa ec => new JwtSigningKey(c.Kid, ec, alg),
            RSA rsa => new JwtSigningKey(c.Kid, rsa, alg!),
            _ => throw new InvalidOperationException("unexpected key"),
        };
    }

    [Property(MaxTest = 100)]
    [Trait("Spec", "JWT-SVID 3")]
    public Property Mint_ThenValidate_GivesTheSameSvidUntilExpiry() => Prop.ForAll(CaseGen.ToArbitrary(), c =>
    {
        var clock = new FakeTimeProvider(Start);
        var key = SigningKey(c);
        var bundle = new JwtBundle(c.Subject.TrustDomain, [JwtAuthority.FromKey(c.Kid, TestAuthorities.Key(Signers[c.SignerIndex].Kind))]);
        var expiry = Start.AddSeconds(c.LifetimeSeconds);
        var token = JwtSvid.Mint(c.Subject, c.Audience, expiry, key, clock, c.Claims.ToDictionary(p => p.Key, p => (object?)p.Value));

        // Anywhere inside the lifetime, for any of its audiences.
        clock.Advance(TimeSpan.FromSeconds(c.LifetimeSeconds * c.At));
        var validator = new JwtSvidValidator(clock, TimeSpan.Zero);
        var audience = c.Audience[(int)(c.At * c.Audience.Length)];
        var svid = validator.Validate(token, audience, bundle);
        var same = svid.Id == c.Subject
            && svid.Audience.SequenceEqual(c.Audience)
            && svid.Expiry == expiry
            && svid.IssuedAt == Start
            && svid.KeyId == c.Kid
            && svid.Token == token
            && c.Claims.All(p => svid.Claims.TryGetProperty(p.Key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() == p.Value);

        // At expiry it no longer validates (no leeway here).
        clock.SetUtcNow(expiry);
        var expired = Assert.Throws<SvidValidationException>(() => validator.Validate(token, audience, bundle));
        return same && expired.Message.Contains("expired", StringComparison.Ordinal);
    });
}
