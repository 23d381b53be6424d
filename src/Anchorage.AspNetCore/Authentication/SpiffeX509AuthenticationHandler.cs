using System.Text.Encodings.Web;
using Anchorage.AspNetCore.Authentication.Internal;
using Anchorage.AspNetCore.Internal;
using Anchorage.AspNetCore.Kestrel;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Anchorage.AspNetCore.Authentication;

/// <summary>
/// Authenticates the caller by its X.509-SVID: the SPIFFE ID that <c>UseSpiffeMtls</c> verified
/// and authorized during the handshake, or else a client certificate verified here with the bundle
/// of its own trust domain. The principal carries <see cref="SpiffeClaimTypes"/> claims.
/// </summary>
public sealed class SpiffeX509AuthenticationHandler(
    IOptionsMonitor<SpiffeX509AuthenticationOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<SpiffeX509AuthenticationOptions>(options, logger, encoder)
{
    /// <inheritdoc/>
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var feature = Context.Features.Get<SpiffePeerFeature>();
        if (feature is not null && !feature.Id.IsEmpty)
        {
            return SpiffeAuthentication.Success(feature.Id, Scheme.Name);
        }

        var certificate = Context.Connection.ClientCertificate
            ?? await Context.Connection.GetClientCertificateAsync(Context.RequestAborted).ConfigureAwait(false);
        if (certificate is null)
        {
            return AuthenticateResult.NoResult();
        }

        var bundles = SpiffeAuthentication.Bundles(Options.Bundles, Context);
        if (bundles is null)
        {
            return Failure("no x509 bundle source to verify the client certificate with");
        }

        try
        {
            var verified = new X509SvidVerifier(Options.TimeProvider).Verify([certificate], bundles);
            return SpiffeAuthentication.Success(verified.Id, Scheme.Name);
        }
        catch (SpiffeException ex)
        {
            return Failure("client certificate is not a valid x509-svid: " + ex.Message);
        }
    }

    private AuthenticateResult Failure(string reason)
    {
        Log.X509Rejected(Logger, reason);
        return AuthenticateResult.Fail(reason);
    }
}
