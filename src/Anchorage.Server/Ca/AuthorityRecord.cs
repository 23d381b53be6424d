namespace Anchorage.Server.Ca;

/// <summary>X.509 authority (signs X.509-SVIDs) or JWT authority (signs JWT-SVIDs).</summary>
public enum AuthorityKind
{
    X509,
    Jwt,
}

/// <summary>The slot an authority is in (two-slot rotation, as SPIRE).</summary>
public enum AuthorityState
{
    /// <summary>In the bundle, not yet signing.</summary>
    Prepared,

    /// <summary>Signing; one per kind per server.</summary>
    Active,

    /// <summary>No longer signing; stays in the bundle until it expires or is revoked.</summary>
    Old,
}

/// <summary>
/// One signing authority in the persisted journal. The private key stays with the server that
/// owns it (key manager in its data directory); the journal holds only public material, so
/// every server sharing the datastore can publish every authority in the bundle.
/// </summary>
public sealed record AuthorityRecord
{
    /// <summary>X.509: subject key identifier (hex); JWT: the key id.</summary>
    public required string Id { get; init; }

    public required AuthorityKind Kind { get; init; }

    /// <summary>The server instance whose key manager holds the private key.</summary>
    public required string ServerId { get; init; }

    public required AuthorityState State { get; init; }

    /// <summary>Set by <c>authority taint</c>: holders of SVIDs it signed re-issue at once.</summary>
    public bool Tainted { get; init; }

    /// <summary>X.509: the CA certificate (DER). JWT: null.</summary>
    public byte[]? CertificateDer { get; init; }

    /// <summary>X.509: certificates between the CA and the upstream root (DER, concatenated); else null.</summary>
    public byte[]? UpstreamChainDer { get; init; }

    /// <summary>JWT: SubjectPublicKeyInfo (DER). X.509: null.</summary>
    public byte[]? PublicKey { get; init; }

    public required DateTimeOffset NotBefore { get; init; }

    public required DateTimeOffset NotAfter { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
