using System.Security.Claims;
using Anchorage.Spiffe.Ids;

namespace Anchorage.AspNetCore.Authentication.Internal;

/// <summary>Builds the principal both handlers return, so policies read one set of claims.</summary>
internal static class Principals
{
    public static ClaimsPrincipal For(SpiffeId id, string scheme)
    {
        var issuer = "spiffe://" + id.TrustDomain;
        var claims = new List<Claim>
        {
            new(SpiffeClaimTypes.SpiffeId, id.ToString(), ClaimValueTypes.String, issuer),
            new(SpiffeClaimTypes.TrustDomain, id.TrustDomain.ToString(), ClaimValueTypes.String, issuer),
            new(ClaimTypes.NameIdentifier, id.ToString(), ClaimValueTypes.String, issuer),
        };
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, SpiffeClaimTypes.SpiffeId, ClaimTypes.Role));
    }

    /// <summary>The SPIFFE ID of a principal made by <see cref="For"/>; empty for any other.</summary>
    public static SpiffeId IdOf(ClaimsPrincipal user)
    {
        foreach (var claim in user.FindAll(SpiffeClaimTypes.SpiffeId))
        {
            if (SpiffeId.TryParse(claim.Value, out var id))
            {
                return id;
            }
        }

        return default;
    }
}
