using Anchorage.Spiffe.Ids;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.AspNetCore.Authentication.Internal;

/// <summary>What the X.509 and JWT-SVID handlers decide the same way: where their bundles come from and what a success is.</summary>
internal static class SpiffeAuthentication
{
    /// <summary>The bundles the handler's options name, or else the ones in the application's services; null when neither.</summary>
    public static TSource? Bundles<TSource>(TSource? configured, HttpContext context)
        where TSource : class =>
        configured ?? context.RequestServices.GetService<TSource>();

    /// <summary>A ticket for <paramref name="id"/> with the <see cref="Principals"/> claims.</summary>
    public static AuthenticateResult Success(SpiffeId id, string scheme) =>
        AuthenticateResult.Success(new AuthenticationTicket(Principals.For(id, scheme), scheme));
}
