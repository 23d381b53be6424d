using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Federation;

/// <summary>
/// One federation relationship, as an operator declares it (<c>kind: FederatedTrustDomain</c>):
/// whose bundle to fetch, from where, how the endpoint authenticates, who owns the relationship
/// and how stale its bundle may get. URL, profile and trust domain are always explicit; nothing is
/// inferred from another.
/// </summary>
public sealed record FederationRelationship
{
    /// <summary>
    /// Whose bundle to fetch and from where: the foreign trust domain (never the server's own), the
    /// endpoint URL, its profile and what authenticates it. The core library's
    /// <see cref="BundleFetcher"/> fetches with exactly this.
    /// </summary>
    public required BundleEndpoint Endpoint { get; init; }

    /// <summary>The foreign trust domain (never the server's own): <see cref="BundleEndpoint.TrustDomain"/> of <see cref="Endpoint"/>.</summary>
    public TrustDomain TrustDomain => Endpoint.TrustDomain;

    /// <summary><c>metadata.name</c>; defaults to the trust domain's name.</summary>
    public required string Name { get; init; }

    /// <summary>Who answers for this relationship (e.g. a team's address). Required.</summary>
    public required string Owner { get; init; }

    /// <summary><see cref="BundleEndpoint.Url"/> of <see cref="Endpoint"/>.</summary>
    public Uri Url => Endpoint.Url;

    /// <summary><see cref="BundleEndpoint.Profile"/> of <see cref="Endpoint"/>.</summary>
    public BundleEndpointProfile Profile => Endpoint.Profile;

    /// <summary><see cref="BundleEndpoint.EndpointSpiffeId"/> of <see cref="Endpoint"/>.</summary>
    public SpiffeId? EndpointSpiffeId => Endpoint.EndpointSpiffeId;

    /// <summary><see cref="BundleEndpoint.CaBundlePem"/> of <see cref="Endpoint"/>.</summary>
    public string? CaBundlePem => Endpoint.CaBundlePem;

    /// <summary>The freshness SLO: the bundle is <c>stale</c> when its last successful refresh is older than this.</summary>
    public required TimeSpan MaxStaleness { get; init; }

    /// <summary><c>spec.reviewEvery</c>: how long an approval holds before the relationship is <c>review-due</c>; null for never.</summary>
    public TimeSpan? ReviewEvery { get; init; }

    /// <summary>The approval in force; null while the relationship is pending (never approved, revoked, or its endpoint changed).</summary>
    public FederationApproval? Approval { get; init; }

    /// <summary>When the relationship was first stored (set by the datastore).</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the declaration last changed (set by the datastore).</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>
    /// The stored declaration's revision (set by the datastore: 1 when created, +1 per update); an
    /// update names the revision it was made from, and loses to any write that came in between.
    /// </summary>
    public long Revision { get; init; }
}
