using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Microsoft.AspNetCore.Authorization;

namespace Anchorage.AspNetCore.Authorization;

/// <summary>
/// SPIFFE requirements for authorization policies (go-spiffe's <c>tlsconfig.AuthorizeID</c>,
/// <c>AuthorizeOneOf</c>, <c>AuthorizeMemberOf</c> as policies):
/// <c>options.AddPolicy("orders", p =&gt; p.RequireSpiffeId(id))</c>.
/// </summary>
public static class SpiffeAuthorizationPolicyBuilderExtensions
{
    /// <summary>Requires a caller whose SPIFFE ID is one of <paramref name="allowed"/>.</summary>
    public static AuthorizationPolicyBuilder RequireSpiffeId(this AuthorizationPolicyBuilder builder, params SpiffeId[] allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return builder.RequireSpiffe(allowed.Length == 1 ? Authorizer.Exact(allowed[0]) : Authorizer.OneOf(allowed));
    }

    /// <summary>Requires a caller whose SPIFFE ID is one of <paramref name="allowed"/> (parsed; a bad ID throws <see cref="FormatException"/>).</summary>
    public static AuthorizationPolicyBuilder RequireSpiffeId(this AuthorizationPolicyBuilder builder, params string[] allowed)
    {
        ArgumentNullException.ThrowIfNull(allowed);
        return builder.RequireSpiffeId([.. allowed.Select(SpiffeId.Parse)]);
    }

    /// <summary>Requires a caller of <paramref name="trustDomain"/>.</summary>
    public static AuthorizationPolicyBuilder RequireTrustDomain(this AuthorizationPolicyBuilder builder, TrustDomain trustDomain) =>
        builder.RequireSpiffe(Authorizer.MemberOf(trustDomain));

    /// <summary>Requires a caller of the trust domain named <paramref name="trustDomain"/>.</summary>
    public static AuthorizationPolicyBuilder RequireTrustDomain(this AuthorizationPolicyBuilder builder, string trustDomain) =>
        builder.RequireTrustDomain(TrustDomain.Parse(trustDomain));

    /// <summary>Requires a caller that <paramref name="authorizer"/> allows (any core authorizer, a predicate included).</summary>
    public static AuthorizationPolicyBuilder RequireSpiffe(this AuthorizationPolicyBuilder builder, Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.RequireAuthenticatedUser().AddRequirements(new SpiffeAuthorizerRequirement(authorizer));
    }
}
