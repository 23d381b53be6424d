namespace Anchorage.AspNetCore.Authentication;

/// <summary>The claim types of a SPIFFE principal, set by both SPIFFE authentication handlers.</summary>
public static class SpiffeClaimTypes
{
    /// <summary>The caller's SPIFFE ID (<c>spiffe://td/path</c>); also the principal's name.</summary>
    public const string SpiffeId = "spiffe_id";

    /// <summary>The trust domain of the caller's SPIFFE ID (the name, without <c>spiffe://</c>).</summary>
    public const string TrustDomain = "spiffe_trust_domain";
}
