using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Microsoft.AspNetCore.Authentication;

namespace Anchorage.AspNetCore.Authentication;

/// <summary>Options of the JWT-SVID bearer authentication handler; every default is stated.</summary>
public sealed class JwtSvidAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The audience this service identifies as (JWT-SVID §3.2). Required; no default.</summary>
    public string Audience { get; set; } = string.Empty;

    /// <summary>
    /// The JWT bundles that verify tokens. Default null: the <see cref="IJwtBundleSource"/>
    /// registered in the services (the Workload API's <c>JwtSource</c>).
    /// </summary>
    public IJwtBundleSource? Bundles { get; set; }

    /// <summary>Clock-skew allowance for <c>exp</c>/<c>nbf</c>/<c>iat</c>. Default <see cref="JwtSvidValidator.DefaultLeeway"/> (30 s).</summary>
    public TimeSpan Leeway { get; set; } = JwtSvidValidator.DefaultLeeway;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(Audience))
        {
            throw new ArgumentException("jwt-svid authentication: audience must be set");
        }

        if (Leeway < TimeSpan.Zero || Leeway > JwtSvidValidator.MaxLeeway)
        {
            throw new ArgumentException("jwt-svid authentication: leeway must be between zero and five minutes");
        }
    }
}
