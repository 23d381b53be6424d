using System.Collections.Immutable;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Ca;

/// <summary>
/// The trust domain's CA as the APIs see it: sign X.509-SVIDs from CSRs, mint JWT-SVIDs,
/// publish the bundle, and the operator's forced-rotation verbs. One implementation
/// (<c>CaManager</c>) per server; several servers sharing a datastore each sign with their own
/// authority and publish one bundle holding all of them.
/// </summary>
public interface ICertificateAuthority
{
    /// <summary>The trust domain this CA signs for.</summary>
    TrustDomain TrustDomain { get; }

    /// <summary>
    /// Signs an X.509-SVID for <paramref name="id"/> with the key in <paramref name="csr"/> (PKCS#10
    /// DER, signature checked); TTL defaults to the configured one and is capped (CA TTL / 6).
    /// </summary>
    /// <exception cref="FormatException">The CSR is malformed or its signature does not verify.</exception>
    /// <exception cref="ArgumentException">The ID is not in this trust domain, or a DNS name is invalid.</exception>
    /// <exception cref="InvalidOperationException">No active X.509 authority (the server is not ready).</exception>
    Task<IssuedX509Svid> SignX509SvidAsync(SpiffeId id, ReadOnlyMemory<byte> csr, IReadOnlyList<string> dnsNames, TimeSpan? ttl, CancellationToken cancellationToken);

    /// <summary>Mints a JWT-SVID with the active JWT authority.</summary>
    Task<IssuedJwtSvid> MintJwtSvidAsync(SpiffeId id, IReadOnlyList<string> audience, TimeSpan? ttl, CancellationToken cancellationToken);

    /// <summary>The local trust domain's bundle as published (with its sequence).</summary>
    Task<StoredBundle> GetBundleAsync(CancellationToken cancellationToken);

    /// <summary>Authorities of every server, of <paramref name="kind"/>, oldest first.</summary>
    Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(AuthorityKind kind, CancellationToken cancellationToken);

    /// <summary>Authorities marked tainted (holders of SVIDs they signed must re-issue).</summary>
    Task<ImmutableArray<AuthorityRecord>> ListTaintedAsync(CancellationToken cancellationToken);

    /// <summary>Prepares a new authority of this server now (it joins the bundle before it signs).</summary>
    Task<AuthorityRecord> PrepareAsync(AuthorityKind kind, CancellationToken cancellationToken);

    /// <summary>Activates this server's prepared authority (or <paramref name="id"/>); the active one becomes old.</summary>
    Task<AuthorityRecord> ActivateAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken);

    /// <summary>Taints an old authority (or <paramref name="id"/>): SVIDs it signed are re-issued at once.</summary>
    Task<AuthorityRecord> TaintAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken);

    /// <summary>Revokes a non-active authority (or <paramref name="id"/>): it leaves the bundle, sequence bumped.</summary>
    Task<AuthorityRecord> RevokeAsync(AuthorityKind kind, string? id, CancellationToken cancellationToken);
}
