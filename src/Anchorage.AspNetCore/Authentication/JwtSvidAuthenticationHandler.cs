using System.Text.Encodings.Web;
using Anchorage.AspNetCore.Authentication.Internal;
using Anchorage.AspNetCore.Internal;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Anchorage.AspNetCore.Authentication;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;JWT-SVID&gt;</c> with the core
/// <see cref="JwtSvidValidator"/> against the JWT bundle of the token's own trust domain (kid-less
/// tokens are tried against every key of that bundle, as the core does). A missing header is no
/// result; a bad token is a failure with the validator's one-line reason (never the token).
/// </summary>
public sealed class JwtSvidAuthenticationHandler(
    IOptionsMonitor<JwtSvidAuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<JwtSvidAuthenticationOptions>(options, logger, encoder)
{
    private const string BearerPrefix = "Bearer ";

    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (header is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var token = header[BearerPrefix.Length..].Trim();
        var bundles = SpiffeAuthentication.Bundles(Options.Bundles, Context);
        if (bundles is null)
        {
            return Failure("no jwt bundle source to validate the token with");
        }

        await SourceReadiness.WaitAsync(bundles, Context.RequestAborted).ConfigureAwait(false);
        try
        {
            var svid = new JwtSvidValidator(Options.TimeProvider, Options.Leeway).Validate(token, Options.Audience, bundles);
            return SpiffeAuthentication.Success(svid.Id, Scheme.Name);
        }
        catch (SpiffeException ex)
        {
            return Failure(ex.Message);
        }
    }

    /// <inheritdoc/>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }

    private AuthenticateResult Failure(string reason)
    {
        Log.JwtSvidRejected(Logger, reason);
        return AuthenticateResult.Fail(reason);
    }
}
