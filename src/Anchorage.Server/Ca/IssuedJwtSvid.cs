namespace Anchorage.Server.Ca;

/// <summary>A minted JWT-SVID and its expiry.</summary>
public sealed record IssuedJwtSvid(string Token, DateTimeOffset Expiry);
