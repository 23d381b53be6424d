using System.Security.Cryptography;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca;

/// <summary>
/// Makes JWT signing authorities: an EC P-256 key (ES256) with a random key id of 32 letters and
/// digits (as SPIRE), valid from now for the CA TTL.
/// </summary>
public sealed class JwtAuthorityFactory
{
    private const string KeyIdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a factory reading "now" from <paramref name="timeProvider"/> (default: the system clock).</summary>
    public JwtAuthorityFactory(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>A new random key id: 32 characters of A-Z, a-z, 0-9 (about 190 bits).</summary>
    public static string NewKeyId() => RandomNumberGenerator.GetString(KeyIdAlphabet, 32);

    /// <summary>Generates a P-256 key in <paramref name="keys"/> under <c>jwt-&lt;kid&gt;</c> and wraps it.</summary>
    /// <exception cref="ArgumentException">A TTL that is not positive.</exception>
    public async Task<JwtSigningAuthority> CreateAsync(IKeyManager keys, TimeSpan? ttl = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var keyId = NewKeyId();
        var key = (ECDsa)await keys.GenerateAsync(AuthorityKeyIds.For(AuthorityKind.Jwt, keyId), KeyType.EcP256, cancellationToken).ConfigureAwait(false);
        return Create(key, keyId, ttl);
    }

    /// <summary>Wraps <paramref name="key"/> (ownership passes to the result) as an authority valid from now for <paramref name="ttl"/>.</summary>
    /// <param name="key">A P-256 private key (ES256).</param>
    /// <param name="keyId">The <c>kid</c>; a new random one when null.</param>
    /// <param name="ttl">Lifetime; <see cref="RotationPlanner.DefaultCaTtl"/> when null.</param>
    /// <exception cref="ArgumentException">Not a P-256 private key, or a TTL that is not positive.</exception>
    public JwtSigningAuthority Create(ECDsa key, string? keyId = null, TimeSpan? ttl = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        var lifetime = ttl ?? RotationPlanner.DefaultCaTtl;
        if (lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), lifetime, "jwt authority ttl must be positive");
        }

        if (key.KeySize != 256)
        {
            throw new ArgumentException("jwt authority key must be P-256", nameof(key));
        }

        var now = _timeProvider.GetUtcNow();
        var signingKey = new JwtSigningKey(keyId ?? NewKeyId(), key, "ES256");
        return new JwtSigningAuthority(signingKey, now, now + lifetime, _timeProvider);
    }

    /// <summary>Rebuilds an authority from its journal record and its key (ownership passes to the result).</summary>
    /// <exception cref="ArgumentException">The record is not a JWT authority.</exception>
    public JwtSigningAuthority FromRecord(AuthorityRecord record, ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Kind != AuthorityKind.Jwt)
        {
            throw new ArgumentException($"authority \"{record.Id}\" is not a jwt authority", nameof(record));
        }

        return new JwtSigningAuthority(new JwtSigningKey(record.Id, key), record.NotBefore, record.NotAfter, _timeProvider);
    }
}
