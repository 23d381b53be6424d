using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// Validates JWT-SVIDs against the JWT bundle of the trust domain named in their <c>sub</c>.
/// Thread-safe and stateless apart from its clock and leeway: one instance serves any number
/// of concurrent validations.
/// </summary>
/// <remarks>
/// <para>Checks, in this order (each failure is a <see cref="SvidValidationException"/> with its
/// own message, or a <see cref="BundleNotFoundException"/>):</para>
/// <list type="number">
/// <item>size: at most <see cref="MaxTokenLength"/> characters, before anything is decoded;</item>
/// <item>JWT-SVID §5.1: JWS compact serialization, three base64url parts without padding
/// (JSON serialization and JWE are named as such);</item>
/// <item>JWT-SVID §2.1 and §4: the header is a JSON object whose <c>alg</c> is one of RS256/384/512,
/// ES256/384/512, PS256/384/512; this is decided before any other header is looked at;</item>
/// <item>JWT-SVID §2: <c>crit</c> is rejected (no extension is understood, RFC 7515 §4.1.11), and so
/// is every header other than <c>alg</c>, <c>kid</c>, <c>typ</c>; §2.3: <c>typ</c> absent, <c>JWT</c>
/// or <c>JOSE</c>; §2.2: <c>kid</c> optional, a non-empty string;</item>
/// <item>JWT-SVID §3: the payload is a JSON object without duplicate members (RFC 7519 §4);
/// <c>sub</c> a SPIFFE ID (§3.1), <c>aud</c> a string or a non-empty array of strings (§3.2),
/// <c>exp</c> a NumericDate (§3.3); <c>nbf</c>, <c>iat</c> NumericDates when present;</item>
/// <item>JWT-SVID §4: the key comes only from the bundle of <c>sub</c>'s trust domain: the
/// authority named by <c>kid</c>, or, without <c>kid</c>, every authority of that bundle whose key
/// fits <c>alg</c> (EC on the curve of the algorithm; RSA of at least 2048 bits);</item>
/// <item>RFC 7515 §5.2: the signature (ECDSA as r||s, RFC 7518 §3.4; RSASSA-PKCS1-v1_5; RSASSA-PSS
/// with a salt as long as the hash, RFC 7518 §3.5);</item>
/// <item>RFC 7519 §4.1.4/§4.1.5 with the leeway: <c>exp</c> in the future, <c>nbf</c> not in the
/// future; <c>iat</c> not in the future;</item>
/// <item>JWT-SVID §3.2: <c>aud</c> contains the validator's audience (ordinal comparison).</item>
/// </list>
/// <para>The signature is checked before the time and audience claims, so a forged token is
/// always reported as such, whatever its claims say.</para>
/// </remarks>
public sealed class JwtSvidValidator
{
    /// <summary>The largest token accepted, in characters (16 KiB).</summary>
    public const int MaxTokenLength = 16 * 1024;

    /// <summary>
    /// The default clock-skew allowance, 30 seconds. JWT-SVIDs are short-lived (SPIRE's default
    /// lifetime is 5 minutes), so the allowance stays well below that; go-spiffe inherits
    /// go-jose's 1 minute, which we consider generous for hosts that run NTP.
    /// </summary>
    public static readonly TimeSpan DefaultLeeway = TimeSpan.FromSeconds(30);

    /// <summary>The largest leeway the constructor accepts (5 minutes).</summary>
    public static readonly TimeSpan MaxLeeway = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _leeway;

    /// <summary>Creates a validator.</summary>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="leeway">Clock-skew allowance for <c>exp</c>, <c>nbf</c> and <c>iat</c>;
    /// <see cref="DefaultLeeway"/> when null; between zero and <see cref="MaxLeeway"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The leeway is negative or above <see cref="MaxLeeway"/>.</exception>
    public JwtSvidValidator(TimeProvider? timeProvider = null, TimeSpan? leeway = null)
    {
        var value = leeway ?? DefaultLeeway;
        if (value < TimeSpan.Zero || value > MaxLeeway)
        {
            throw new ArgumentOutOfRangeException(nameof(leeway), "leeway must be between zero and five minutes");
        }

        _timeProvider = timeProvider ?? TimeProvider.System;
        _leeway = value;
    }

    /// <summary>The clock-skew allowance in use.</summary>
    public TimeSpan Leeway => _leeway;

    /// <summary>Validates <paramref name="token"/> for <paramref name="audience"/>; see the remarks on the type.</summary>
    /// <param name="token">The token in JWS compact serialization.</param>
    /// <param name="audience">The audience this validator identifies with (JWT-SVID §3.2).</param>
    /// <param name="bundles">The JWT bundles; only the bundle of the token's trust domain is used.</param>
    /// <returns>The validated SVID.</returns>
    /// <exception cref="ArgumentException">The token is null or the audience is empty.</exception>
    /// <exception cref="BundleNotFoundException">No JWT bundle is known for the trust domain of <c>sub</c>.</exception>
    /// <exception cref="SvidValidationException">The token is malformed, breaks a rule of JWT-SVID, or does not verify.</exception>
    public JwtSvid Validate(string token, string audience, IJwtBundleSource bundles)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        return ValidateCore(token, audience, bundles);
    }

    /// <summary>Validates; with <paramref name="bundles"/> null the signature is not checked.</summary>
    internal JwtSvid ValidateCore(string token, string audience, IJwtBundleSource? bundles)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrEmpty(audience);

        // Size first: nothing is decoded from an oversized token.
        if (token.Length > MaxTokenLength)
        {
            throw Fail($"token is longer than {MaxTokenLength} characters");
        }

        // JWT-SVID §5.1: JWS compact serialization, BASE64URL(header).BASE64URL(payload).BASE64URL(signature).
        var span = token.AsSpan();
        var dots = span.Count('.');
        if (dots != 2 || span.TrimStart().StartsWith('{'))
        {
            throw span.TrimStart().StartsWith('{')
                ? Fail("token uses the jws json serialization; only the compact serialization is allowed")
                : dots == 4
                    ? Fail("token is encrypted (jwe); only signed tokens (jws) are allowed")
                    : Fail("token must have three dot-separated parts");
        }

        var firstDot = span.IndexOf('.');
        var secondDot = firstDot + 1 + span[(firstDot + 1)..].IndexOf('.');
        var headerPart = span[..firstDot];
        var payloadPart = span[(firstDot + 1)..secondDot];
        var signaturePart = span[(secondDot + 1)..];

        var header = JwtTokenReader.ReadHeader(headerPart);
        var claims = JwtTokenReader.ReadClaims(payloadPart);

        if (bundles is not null)
        {
            VerifySignature(span[..secondDot], signaturePart, header, claims.Subject, bundles);
        }

        var now = _timeProvider.GetUtcNow();
        // Written so that no extreme claim value can overflow: now stays near the present.
        if (now - _leeway >= claims.Expiry)
        {
            throw Fail("token has expired");
        }

        if (claims.NotBefore is { } nbf && now + _leeway < nbf)
        {
            throw Fail("token is not yet valid");
        }

        if (claims.IssuedAt is { } iat && now + _leeway < iat)
        {
            throw Fail("token was issued in the future");
        }

        if (!claims.Audience.Contains(audience, StringComparer.Ordinal))
        {
            throw Fail($"token aud does not contain \"{TrustDomain.Printable(audience)}\"");
        }

        return new JwtSvid(
            claims.Subject,
            claims.Audience,
            claims.Expiry,
            claims.IssuedAt,
            claims.NotBefore,
            header.KeyId,
            token,
            claims.Element,
            hint: null);
    }

    private static void VerifySignature(
        ReadOnlySpan<char> signingInput,
        ReadOnlySpan<char> signaturePart,
        JwtTokenReader.Header header,
        SpiffeId subject,
        IJwtBundleSource bundles)
    {
        // JWT-SVID §4: only the bundle of the subject's own trust domain can vouch for it.
        var trustDomain = subject.TrustDomain;
        if (!bundles.TryGetJwtBundle(trustDomain, out var bundle) || bundle.TrustDomain != trustDomain)
        {
            throw new BundleNotFoundException(trustDomain, "jwt");
        }

        var algorithm = header.Algorithm;
        JwtAuthority? single = null;
        if (header.KeyId is not null)
        {
            if (!bundle.TryGetAuthority(header.KeyId, out single))
            {
                throw Fail($"token kid \"{TrustDomain.Printable(header.KeyId)}\" is not in the bundle of trust domain \"{trustDomain.Name}\"");
            }

            var misfit = JwtAlgorithm.Misfit(single, algorithm);
            if (misfit is not null)
            {
                throw Fail(misfit);
            }
        }

        // RFC 7515 §2: BASE64URL without padding; the canonical form is required so that one
        // signature has exactly one spelling.
        Span<byte> signature = stackalloc byte[1024];
        if (signaturePart.IsEmpty ||
            signaturePart.Length > 1366 ||
            signaturePart.ContainsAnyExcept(JwtTokenReader.Base64UrlAlphabet) ||
            !JwtTokenReader.TryDecode(signaturePart, signature, out var signatureLength) ||
            !JwtTokenReader.IsCanonical(signaturePart, signature[..signatureLength]))
        {
            throw Fail("token signature is not base64url");
        }

        signature = signature[..signatureLength];

        var inputLength = signingInput.Length;
        var rented = ArrayPool<byte>.Shared.Rent(inputLength);
        try
        {
            var data = rented.AsSpan(0, Encoding.ASCII.GetBytes(signingInput, rented));
            if (single is not null)
            {
                if (!Verify(single, algorithm, data, signature))
                {
                    throw Fail("token signature does not verify");
                }

                return;
            }

            // JWT-SVID without kid: any authority of this trust domain whose key fits alg.
            var tried = false;
            foreach (var authority in bundle.Authorities)
            {
                if (JwtAlgorithm.Misfit(authority, algorithm) is not null)
                {
                    continue;
                }

                tried = true;
                if (Verify(authority, algorithm, data, signature))
                {
                    return;
                }
            }

            throw tried
                ? Fail("token signature does not verify")
                : Fail($"no key of trust domain \"{trustDomain.Name}\" fits alg {algorithm.Name}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool Verify(JwtAuthority authority, JwtAlgorithm.Info algorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            switch (algorithm.Family)
            {
                case JwtAlgorithm.KeyFamily.Ec:
                    // RFC 7518 §3.4: r||s, each exactly the size of the curve order.
                    return signature.Length == algorithm.EcSignatureLength &&
                        authority.Ecdsa!.VerifyData(data, signature, algorithm.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
                case JwtAlgorithm.KeyFamily.RsaPkcs1:
                    return authority.Rsa!.VerifyData(data, signature, algorithm.Hash, RSASignaturePadding.Pkcs1);
                default:
                    // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash (.NET's PSS).
                    return authority.Rsa!.VerifyData(data, signature, algorithm.Hash, RSASignaturePadding.Pss);
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static SvidValidationException Fail(string message) => new(message);
}
