using System.Security.Cryptography;

namespace Anchorage.Spiffe.Bundles;

/// <summary>
/// One JWT signing authority of a trust domain: a key id and an EC (P-256/P-384/P-521) or RSA
/// public key, kept as SubjectPublicKeyInfo DER and loaded once for verification.
/// </summary>
public sealed class JwtAuthority
{
    private readonly ECDsa? _ecdsa;
    private readonly RSA? _rsa;

    /// <summary>Creates an authority from a key id and a SubjectPublicKeyInfo.</summary>
    /// <exception cref="ArgumentException">The key id is empty.</exception>
    /// <exception cref="FormatException">The key is not an EC or RSA SubjectPublicKeyInfo.</exception>
    public JwtAuthority(string keyId, ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        KeyId = keyId;
        SubjectPublicKeyInfo = subjectPublicKeyInfo.ToArray();
        var oid = Internal.PublicKeys.ReadAlgorithmOid(subjectPublicKeyInfo);
        try
        {
            switch (oid)
            {
                case Internal.PublicKeys.EcPublicKeyOid:
                    _ecdsa = ECDsa.Create();
                    _ecdsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
                    break;
                case Internal.PublicKeys.RsaEncryptionOid:
                    _rsa = RSA.Create();
                    _rsa.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
                    break;
                default:
                    throw new FormatException($"key \"{keyId}\" has unsupported algorithm {oid}; only EC and RSA keys are supported");
            }
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            // PlatformNotSupportedException: the key names a curve OpenSSL does not know.
            throw new FormatException($"key \"{keyId}\" is not a valid public key", ex);
        }
    }

    /// <summary>Creates an authority from a key id and a loaded EC or RSA key (its public part is kept).</summary>
    public static JwtAuthority FromKey(string keyId, AsymmetricAlgorithm key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return new JwtAuthority(keyId, key.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The key id (JWT <c>kid</c>).</summary>
    public string KeyId { get; }

    /// <summary>The public key as SubjectPublicKeyInfo DER (the Workload API's encoding).</summary>
    public ReadOnlyMemory<byte> SubjectPublicKeyInfo { get; }

    /// <summary>The EC key, when this is an EC authority.</summary>
    public ECDsa? Ecdsa => _ecdsa;

    /// <summary>The RSA key, when this is an RSA authority.</summary>
    public RSA? Rsa => _rsa;

    /// <summary>True when both authorities carry the same key id and key.</summary>
    public bool SameAs(JwtAuthority other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return KeyId == other.KeyId && SubjectPublicKeyInfo.Span.SequenceEqual(other.SubjectPublicKeyInfo.Span);
    }
}
