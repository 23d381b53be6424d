using Anchorage.WorkloadApi;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.AspNetCore.Authentication;

/// <summary>Adds the SPIFFE authentication schemes to <c>AddAuthentication()</c>.</summary>
public static class SpiffeAuthenticationBuilderExtensions
{
    /// <summary>
    /// X.509-SVID authentication (scheme <see cref="SpiffeAuthenticationDefaults.X509Scheme"/>):
    /// the principal of the client certificate that <c>UseSpiffeMtls</c> verified.
    /// </summary>
    public static AuthenticationBuilder AddSpiffeX509(
        this AuthenticationBuilder builder, Action<SpiffeX509AuthenticationOptions>? configure = null) =>
        builder.AddSpiffeX509(SpiffeAuthenticationDefaults.X509Scheme, configure);

    /// <summary>X.509-SVID authentication under <paramref name="scheme"/>.</summary>
    public static AuthenticationBuilder AddSpiffeX509(
        this AuthenticationBuilder builder, string scheme, Action<SpiffeX509AuthenticationOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddScheme<SpiffeX509AuthenticationOptions, SpiffeX509AuthenticationHandler>(scheme, configure);
    }

    /// <summary>
    /// JWT-SVID bearer authentication for <paramref name="audience"/> (scheme
    /// <see cref="SpiffeAuthenticationDefaults.JwtSvidScheme"/>), with the JWT bundles of the
    /// Workload API (<see cref="JwtSource"/>, registered with default options when missing).
    /// </summary>
    public static AuthenticationBuilder AddJwtSvid(
        this AuthenticationBuilder builder, string audience, Action<JwtSvidAuthenticationOptions>? configure = null) =>
        builder.AddJwtSvid(SpiffeAuthenticationDefaults.JwtSvidScheme, audience, configure);

    /// <summary>JWT-SVID bearer authentication for <paramref name="audience"/> under <paramref name="scheme"/>.</summary>
    public static AuthenticationBuilder AddJwtSvid(
        this AuthenticationBuilder builder, string scheme, string audience, Action<JwtSvidAuthenticationOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        if (!builder.Services.Any(d => d.ServiceType == typeof(JwtSource)))
        {
            builder.Services.AddSpiffeWorkloadApi();
        }

        return builder.AddScheme<JwtSvidAuthenticationOptions, JwtSvidAuthenticationHandler>(scheme, options =>
        {
            options.Audience = audience;
            configure?.Invoke(options);
        });
    }
}
