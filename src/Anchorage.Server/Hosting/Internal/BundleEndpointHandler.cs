using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Bundles;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// The bundle endpoint's one resource (SPIFFE Trust Domain and Bundle §5): <c>GET /</c> answers
/// the latest published bundle of this trust domain as a SPIFFE bundle JWK Set (§4) with
/// <c>spiffe_sequence</c> and <c>spiffe_refresh_hint</c>; <c>HEAD</c> the same headers; any
/// other method 405.
/// </summary>
internal sealed class BundleEndpointHandler(
    Func<CancellationToken, ValueTask<SpiffeBundle>> source, TimeSpan defaultRefreshHint, ILogger logger)
{
    public const string Allow = "GET, HEAD";

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = Allow;
            return;
        }

        byte[] body;
        try
        {
            body = WithRefreshHint(await source(context.RequestAborted).ConfigureAwait(false)).ToUtf8Json();
        }
        catch (Exception e) when (e is DataStoreUnavailableException or InvalidOperationException)
        {
            // Never an old or partial bundle: a peer keeps the last one it had and tries again.
            HostingLog.BundleUnavailable(logger, e);
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            response.Headers.CacheControl = "no-store";
            response.Headers.RetryAfter = "5";
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        response.ContentLength = body.Length;
        if (HttpMethods.IsGet(request.Method))
        {
            await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    // Consumers poll at the hint (§4.1.2); a published bundle always has one, this covers one written without.
    private SpiffeBundle WithRefreshHint(SpiffeBundle bundle) => bundle.RefreshHint is not null
        ? bundle
        : new SpiffeBundle(bundle.TrustDomain, bundle.X509Authorities, bundle.JwtAuthorities, bundle.SequenceNumber, defaultRefreshHint);
}
