using Anchorage.Spiffe.Ids;

namespace Anchorage.Spiffe.Federation;

/// <summary>
/// What a federation relationship says about where a foreign trust domain's bundle comes from
/// (SPIFFE_Federation §4, SPIFFE_Trust_Domain_and_Bundle §5): the trust domain, the bundle endpoint
/// URL and its profile, with what the profile needs to authenticate the endpoint. URL, profile and
/// trust domain are always explicit; nothing is inferred from another. The input of
/// <see cref="BundleFetcher.FetchAsync"/>; hosts keep their own record of a relationship (owner,
/// approval, freshness) and hand the fetcher this part of it.
/// </summary>
public sealed record BundleEndpoint
{
    /// <summary>The foreign trust domain whose bundle the endpoint serves.</summary>
    public required TrustDomain TrustDomain { get; init; }

    /// <summary>The bundle endpoint URL (https only).</summary>
    public required Uri Url { get; init; }

    /// <summary>How the endpoint authenticates.</summary>
    public required BundleEndpointProfile Profile { get; init; }

    /// <summary>For <see cref="BundleEndpointProfile.HttpsSpiffe"/>: the SPIFFE ID the endpoint must present (in <see cref="TrustDomain"/>); null for https_web.</summary>
    public SpiffeId? EndpointSpiffeId { get; init; }

    /// <summary>For <see cref="BundleEndpointProfile.HttpsWeb"/>: extra Web-PKI roots (PEM), used in addition to the system roots; null for none.</summary>
    public string? CaBundlePem { get; init; }
}
