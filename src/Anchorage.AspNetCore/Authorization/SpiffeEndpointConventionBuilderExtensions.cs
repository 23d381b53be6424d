using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Microsoft.AspNetCore.Builder;

namespace Anchorage.AspNetCore.Authorization;

/// <summary>
/// SPIFFE requirements as endpoint metadata:
/// <c>app.MapGet("/orders", ...).RequireSpiffeId("spiffe://acme.corp/web")</c>.
/// </summary>
public static class SpiffeEndpointConventionBuilderExtensions
{
    /// <summary>Only callers whose SPIFFE ID is one of <paramref name="allowed"/> reach the endpoint.</summary>
    public static TBuilder RequireSpiffeId<TBuilder>(this TBuilder builder, params string[] allowed)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.RequireSpiffeId(allowed));

    /// <summary>Only callers whose SPIFFE ID is one of <paramref name="allowed"/> reach the endpoint.</summary>
    public static TBuilder RequireSpiffeId<TBuilder>(this TBuilder builder, params SpiffeId[] allowed)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.RequireSpiffeId(allowed));

    /// <summary>Only callers of <paramref name="trustDomain"/> reach the endpoint.</summary>
    public static TBuilder RequireTrustDomain<TBuilder>(this TBuilder builder, string trustDomain)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.RequireTrustDomain(trustDomain));

    /// <summary>Only callers that <paramref name="authorizer"/> allows reach the endpoint.</summary>
    public static TBuilder RequireSpiffe<TBuilder>(this TBuilder builder, Authorizer authorizer)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(policy => policy.RequireSpiffe(authorizer));
}
