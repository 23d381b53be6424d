using Anchorage.Foundation.Audit;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Ca;

/// <summary>What a <see cref="CaManager"/> needs to know: whose CA it is, its key type and lifetimes.</summary>
/// <remarks>
/// SVID TTLs longer than <see cref="RotationPlanner.MaxSvidTtl"/> of the CA lifetime (CA TTL / 6,
/// at most 7 days) are silently capped when an SVID is signed; the configuration validator reports them.
/// </remarks>
public sealed record CaManagerOptions
{
    /// <summary>The default of <see cref="RotationCheckInterval"/>: 10 s, as SPIRE's CA manager.</summary>
    public static readonly TimeSpan DefaultRotationCheckInterval = TimeSpan.FromSeconds(10);

    /// <summary>The default of <see cref="RefreshHint"/>: 5 min.</summary>
    public static readonly TimeSpan DefaultRefreshHint = TimeSpan.FromMinutes(5);

    /// <summary>The trust domain the CA signs for. Required.</summary>
    public required TrustDomain TrustDomain { get; init; }

    /// <summary>This server's id (the owner of the keys in its key manager). Required.</summary>
    public required string ServerId { get; init; }

    /// <summary>The key type of new X.509 authorities. Default <see cref="KeyType.EcP256"/>; JWT authorities are always P-256 (ES256).</summary>
    public KeyType KeyType { get; init; } = KeyType.EcP256;

    /// <summary>The lifetime of a new authority of either kind. Default <see cref="RotationPlanner.DefaultCaTtl"/> (24 h).</summary>
    public TimeSpan CaTtl { get; init; } = RotationPlanner.DefaultCaTtl;

    /// <summary>The X.509-SVID TTL when the caller gives none, also the server SVID's. Default 1 h.</summary>
    public TimeSpan X509SvidTtl { get; init; } = RotationPlanner.DefaultX509SvidTtl;

    /// <summary>The JWT-SVID TTL when the caller gives none. Default 5 min.</summary>
    public TimeSpan JwtSvidTtl { get; init; } = RotationPlanner.DefaultJwtSvidTtl;

    /// <summary>The <c>spiffe_refresh_hint</c> of the published bundle. Default 5 min.</summary>
    public TimeSpan RefreshHint { get; init; } = DefaultRefreshHint;

    /// <summary>
    /// The upstream CA that signs this server's X.509 authorities (loaded from files with
    /// <see cref="UpstreamAuthority.Load"/>); null (the default): self-signed authorities. Borrowed:
    /// the caller keeps it alive while the manager runs and disposes it.
    /// </summary>
    public UpstreamAuthority? UpstreamAuthority { get; init; }

    /// <summary>How often the journal is re-read, the rotation plan applied and the bundle published. Default 10 s.</summary>
    public TimeSpan RotationCheckInterval { get; init; } = DefaultRotationCheckInterval;

    /// <summary>
    /// Where every authority change (prepared, activated, tainted, revoked, retired) is recorded as an
    /// <see cref="AuditKinds.Authority"/> record. Default null: not audited. Borrowed, like <see cref="UpstreamAuthority"/>.
    /// </summary>
    public IAuditSink? Audit { get; init; }
}
