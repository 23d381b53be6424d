using Anchorage.AspNetCore.Authentication.Internal;
using Anchorage.Spiffe.Authorization;
using Microsoft.AspNetCore.Authorization;

namespace Anchorage.AspNetCore.Authorization;

/// <summary>
/// An authorization requirement (and its own handler) that passes the caller's SPIFFE ID, as set
/// by the SPIFFE authentication handlers, to a core <see cref="Authorizer"/>. A caller without a
/// SPIFFE ID never meets it.
/// </summary>
public sealed class SpiffeAuthorizerRequirement : AuthorizationHandler<SpiffeAuthorizerRequirement>, IAuthorizationRequirement
{
    /// <summary>Creates the requirement.</summary>
    public SpiffeAuthorizerRequirement(Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(authorizer);
        Authorizer = authorizer;
    }

    /// <summary>The authorizer that decides.</summary>
    public Authorizer Authorizer { get; }

    /// <inheritdoc/>
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, SpiffeAuthorizerRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(requirement);
        var id = Principals.IdOf(context.User);
        if (id.IsEmpty)
        {
            context.Fail(new AuthorizationFailureReason(this, "the caller has no spiffe id"));
        }
        else if (requirement.Authorizer.Authorize(id) is { IsAllowed: false } denied)
        {
            context.Fail(new AuthorizationFailureReason(this, denied.Reason));
        }
        else
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
