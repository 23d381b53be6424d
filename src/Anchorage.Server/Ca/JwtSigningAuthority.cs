using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Server.Ca;

/// <summary>
/// A JWT signing authority: a <see cref="JwtSigningKey"/> (key id + private key) with a validity
/// window. Owns its key: dispose it when the authority is no longer used.
/// </summary>
public sealed class JwtSigningAuthority : IDisposable
{
    private readonly TimeProvider _timeProvider;

    /// <summary>Wraps a signing key valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>.</summary>
    /// <exception cref="ArgumentException">notAfter is not after notBefore.</exception>
    public JwtSigningAuthority(JwtSigningKey signingKey, DateTimeOffset notBefore, DateTimeOffset notAfter, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        if (notAfter <= notBefore)
        {
            throw new ArgumentException("jwt authority notAfter must be after notBefore", nameof(notAfter));
        }

        SigningKey = signingKey;
        NotBefore = notBefore;
        NotAfter = notAfter;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The key id (<c>kid</c>) and private key.</summary>
    public JwtSigningKey SigningKey { get; }

    /// <summary>The journal id: the key id.</summary>
    public string Id => SigningKey.KeyId;

    /// <summary>When the authority was made.</summary>
    public DateTimeOffset NotBefore { get; }

    /// <summary>The authority's expiry; no token it signs outlives it.</summary>
    public DateTimeOffset NotAfter { get; }

    /// <summary>
    /// Mints a JWT-SVID with <see cref="JwtSvid.Mint"/>, expiring at <c>now + min(ttl, MaxSvidTtl)</c>
    /// and never after <see cref="NotAfter"/>.
    /// </summary>
    /// <param name="subject">The workload's SPIFFE ID.</param>
    /// <param name="audience">The audiences.</param>
    /// <param name="ttl">The requested TTL; <see cref="RotationPlanner.DefaultJwtSvidTtl"/> when null.</param>
    /// <exception cref="ArgumentException">Empty subject or audience, or a TTL that is not positive.</exception>
    /// <exception cref="InvalidOperationException">The authority is not valid now.</exception>
    public string Mint(SpiffeId subject, IReadOnlyList<string> audience, TimeSpan? ttl = null)
    {
        var now = _timeProvider.GetUtcNow();
        var (_, expiry) = RotationPlanner.SvidWindow(now, ttl ?? RotationPlanner.DefaultJwtSvidTtl, NotBefore, NotAfter);
        return JwtSvid.Mint(subject, audience, expiry, SigningKey, _timeProvider);
    }

    /// <summary>The journal record (the public key only) for this authority.</summary>
    public AuthorityRecord ToRecord(string serverId, AuthorityState state, DateTimeOffset createdAt)
    {
        ArgumentException.ThrowIfNullOrEmpty(serverId);
        return new AuthorityRecord
        {
            Id = Id,
            Kind = AuthorityKind.Jwt,
            ServerId = serverId,
            State = state,
            PublicKey = SigningKey.Key.ExportSubjectPublicKeyInfo(),
            NotBefore = NotBefore,
            NotAfter = NotAfter,
            CreatedAt = createdAt,
        };
    }

    /// <summary>Names the authority; never the key.</summary>
    public override string ToString() => $"jwt authority \"{Id}\" until {NotAfter:O}";

    /// <summary>Disposes the key.</summary>
    public void Dispose() => SigningKey.Key.Dispose();
}
