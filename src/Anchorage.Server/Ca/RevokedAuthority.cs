namespace Anchorage.Server.Ca;

/// <summary>
/// An authority as it was when it was revoked (removed from the journal and the bundle), kept for the
/// authorities timeline (issue 16): the datastore keeps the latest <see cref="HistoryLimit"/> per kind.
/// It signs nothing and is trusted by nothing; this is only the record.
/// </summary>
/// <param name="Kind">X.509 or JWT.</param>
/// <param name="Id">X.509: subject key identifier (hex); JWT: the key id.</param>
/// <param name="ServerId">The server that held its key.</param>
/// <param name="Tainted">Whether it was tainted before the revocation.</param>
/// <param name="NotBefore">Its validity start.</param>
/// <param name="NotAfter">Its validity end.</param>
/// <param name="RevokedAt">When it was revoked.</param>
public sealed record RevokedAuthority(
    AuthorityKind Kind, string Id, string ServerId, bool Tainted, DateTimeOffset NotBefore, DateTimeOffset NotAfter, DateTimeOffset RevokedAt)
{
    /// <summary>How many revoked authorities of each kind are remembered (older ones are pruned at each revocation).</summary>
    public const int HistoryLimit = 100;
}
