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
    /// <summary>The foreign trust domain (never the server's own).</summary>
    public required TrustDomain TrustDomain { get; init; }

    /// <summary><c>metadata.name</c>; defaults to the trust domain's name.</summary>
    public required string Name { get; init; }

    /// <summary>Who answers for this relationship (e.g. a team's address). Required.</summary>
    public required string Owner { get; init; }

    /// <summary>The bundle endpoint URL (https only).</summary>
    public required Uri Url { get; init; }

    /// <summary>How the endpoint authenticates.</summary>
    public required BundleEndpointProfile Profile { get; init; }

    /// <summary>For <see cref="BundleEndpointProfile.HttpsSpiffe"/>: the SPIFFE ID the endpoint must present (in <see cref="TrustDomain"/>); null for https_web.</summary>
    public SpiffeId? EndpointSpiffeId { get; init; }

    /// <summary>For <see cref="BundleEndpointProfile.HttpsWeb"/>: extra Web-PKI roots (PEM), used in addition to the system roots; null for none.</summary>
    public string? CaBundlePem { get; init; }

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

    /// <summary>The part of the relationship the core library's <see cref="BundleFetcher"/> fetches with: trust domain, URL, profile and what authenticates the endpoint.</summary>
    public BundleEndpoint ToBundleEndpoint() => new()
    {
        TrustDomain = TrustDomain,
        Url = Url,
        Profile = Profile,
        EndpointSpiffeId = EndpointSpiffeId,
        CaBundlePem = CaBundlePem,
    };
}
