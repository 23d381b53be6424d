using Anchorage.Server.Ca;

namespace Anchorage.Server.Config;

/// <summary><c>ca:</c> the certificate authority: key type and lifetimes.</summary>
/// <remarks>
/// SVID lifetimes are capped at <see cref="CaTtl"/> / 6 (as SPIRE): an authority is activated at
/// that point before its end, so every SVID it signs expires before it does.
/// </remarks>
public sealed record CaOptions
{
    /// <summary>The key type of new authorities. Default <see cref="KeyType.EcP256"/>.</summary>
    public KeyType KeyType { get; init; } = KeyType.EcP256;

    /// <summary>The lifetime of a signing authority. Default 24h.</summary>
    public TimeSpan CaTtl { get; init; } = TimeSpan.FromHours(24);

    /// <summary>The lifetime of an X.509-SVID. Default 1h; at most <see cref="CaTtl"/> / 6.</summary>
    public TimeSpan X509SvidTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The lifetime of a JWT-SVID. Default 5m; at most <see cref="CaTtl"/> / 6.</summary>
    public TimeSpan JwtSvidTtl { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>An upstream authority that signs this server's CA; null (the default): self-signed roots.</summary>
    public UpstreamAuthorityOptions? Upstream { get; init; }
}
