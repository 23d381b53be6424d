using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Internal;

namespace Anchorage.Spiffe.Svids;

/// <summary>
/// A private key that mints JWT-SVIDs: a key id (emitted as <c>kid</c>), an EC or RSA private
/// key and the JWS algorithm it signs with (JWT-SVID §2.1: ES256/384/512 need the matching NIST
/// curve P-256/P-384/P-521; RS256/384/512 and PS256/384/512 need an RSA key of at least 2048 bits).
/// </summary>
/// <remarks>
/// The key object is borrowed, not owned: the caller keeps it alive while minting and disposes
/// it. The private key never appears in <see cref="ToString"/> or in any exception message.
/// </remarks>
public sealed class JwtSigningKey
{
    /// <summary>The minimum RSA modulus size accepted for signing and for verification.</summary>
    public const int MinimumRsaKeySize = 2048;

    /// <summary>Creates a signing key from an EC private key.</summary>
    /// <param name="keyId">The <c>kid</c> every minted token carries; also the key id in the bundle.</param>
    /// <param name="key">A P-256, P-384 or P-521 private key.</param>
    /// <param name="algorithm">ES256, ES384 or ES512; when null, the one that fits the curve.</param>
    /// <exception cref="ArgumentException">The key id is empty, the key has no private part, or the
    /// algorithm does not fit the key.</exception>
    public JwtSigningKey(string keyId, ECDsa key, string? algorithm = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        ArgumentNullException.ThrowIfNull(key);
        var curveAlgorithm = key.KeySize switch
        {
            256 => "ES256",
            384 => "ES384",
            521 => "ES512",
            _ => null,
        };
        var curveOid = ReadNamedCurve(key);
        if (curveAlgorithm is null || curveOid != JwtAlgorithm.CurveOidFor(curveAlgorithm))
        {
            throw new ArgumentException("only P-256, P-384 and P-521 keys can sign JWT-SVIDs", nameof(key));
        }

        algorithm ??= curveAlgorithm;
        if (!string.Equals(algorithm, curveAlgorithm, StringComparison.Ordinal))
        {
            throw new ArgumentException($"algorithm {algorithm} does not fit a {key.KeySize}-bit EC key; use {curveAlgorithm}", nameof(algorithm));
        }

        RequirePrivateKey(key);
        KeyId = keyId;
        Algorithm = algorithm;
        Key = key;
    }

    /// <summary>Creates a signing key from an RSA private key.</summary>
    /// <param name="keyId">The <c>kid</c> every minted token carries; also the key id in the bundle.</param>
    /// <param name="key">An RSA private key of at least 2048 bits.</param>
    /// <param name="algorithm">RS256, RS384, RS512, PS256, PS384 or PS512.</param>
    /// <exception cref="ArgumentException">The key id is empty, the key is too short or has no
    /// private part, or the algorithm is not an RSA algorithm.</exception>
    public JwtSigningKey(string keyId, RSA key, string algorithm = "RS256")
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(algorithm);
        if (!JwtAlgorithm.TryGet(algorithm, out var info) || info.Family == JwtAlgorithm.KeyFamily.Ec)
        {
            throw new ArgumentException($"algorithm \"{Ids.TrustDomain.Printable(algorithm)}\" is not an RSA JWT-SVID algorithm", nameof(algorithm));
        }

        if (key.KeySize < MinimumRsaKeySize)
        {
            throw new ArgumentException($"RSA key has {key.KeySize} bits; at least {MinimumRsaKeySize} are required", nameof(key));
        }

        RequirePrivateKey(key);
        KeyId = keyId;
        Algorithm = info.Name;
        Key = key;
    }

    /// <summary>The key id, emitted as the <c>kid</c> header.</summary>
    public string KeyId { get; }

    /// <summary>The JWS algorithm, emitted as the <c>alg</c> header (e.g. <c>ES256</c>).</summary>
    public string Algorithm { get; }

    /// <summary>The private key (an <see cref="ECDsa"/> or an <see cref="RSA"/>).</summary>
    public AsymmetricAlgorithm Key { get; }

    /// <summary>The public half as a bundle authority with the same key id.</summary>
    public JwtAuthority ToAuthority() => JwtAuthority.FromKey(KeyId, Key);

    /// <summary>Names the key id and algorithm; never the key.</summary>
    public override string ToString() => $"{Algorithm} key \"{KeyId}\"";

    internal byte[] Sign(ReadOnlySpan<byte> signingInput)
    {
        var info = JwtAlgorithm.Get(Algorithm);
        return Key switch
        {
            ECDsa ec => ec.SignData(signingInput, info.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
            RSA rsa => rsa.SignData(signingInput.ToArray(), info.Hash, info.Family == JwtAlgorithm.KeyFamily.RsaPss ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
            _ => throw new InvalidOperationException("unreachable: key is neither EC nor RSA"),
        };
    }

    private static string? ReadNamedCurve(ECDsa key)
    {
        try
        {
            return JwtAlgorithm.ReadNamedCurveOid(key.ExportSubjectPublicKeyInfo());
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static void RequirePrivateKey(AsymmetricAlgorithm key)
    {
        // A trial signature is the portable way to ask whether a private part exists; it also
        // works for keys whose private part cannot be exported (hardware-backed keys).
        try
        {
            _ = key switch
            {
                ECDsa ec => ec.SignData([], HashAlgorithmName.SHA256),
                RSA rsa => rsa.SignData([], HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
                _ => [],
            };
        }
        catch (CryptographicException ex)
        {
            throw new ArgumentException("key has no private part", nameof(key), ex);
        }
    }
}
