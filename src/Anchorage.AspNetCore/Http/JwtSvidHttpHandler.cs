using System.Net.Http.Headers;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi;

namespace Anchorage.AspNetCore.Http;

/// <summary>
/// A <see cref="DelegatingHandler"/> that sends <c>Authorization: Bearer &lt;JWT-SVID&gt;</c> for
/// one audience (go-spiffe's <c>JWTSource.FetchJWTSVID</c> per call, cached here). The token is
/// fetched from the Workload API and reused until half of its lifetime has passed, so a caller
/// never sends a token close to expiry and the agent is not asked on every request.
/// </summary>
public sealed class JwtSvidHttpHandler : DelegatingHandler
{
    private readonly Func<string, CancellationToken, Task<JwtSvid>> _fetch;
    private readonly string _audience;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Cached? _cached;

    /// <summary>Creates the handler for <paramref name="audience"/> with the JWT-SVIDs of <paramref name="source"/>.</summary>
    public JwtSvidHttpHandler(JwtSource source, string audience, TimeProvider? timeProvider = null)
        : this(FetchFrom(source), audience, timeProvider)
    {
    }

    /// <summary>Creates the handler with any way of fetching a JWT-SVID for an audience.</summary>
    public JwtSvidHttpHandler(Func<string, CancellationToken, Task<JwtSvid>> fetch, string audience, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(fetch);
        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        _fetch = fetch;
        _audience = audience;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>How many JWT-SVIDs have been fetched so far.</summary>
    public int Fetches { get; private set; }

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var token = await TokenAsync(cancellationToken).ConfigureAwait(false);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gate.Dispose();
        }

        base.Dispose(disposing);
    }

    private static Func<string, CancellationToken, Task<JwtSvid>> FetchFrom(JwtSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return (audience, ct) => source.FetchJwtSvidAsync(audience, cancellationToken: ct);
    }

    private async Task<string> TokenAsync(CancellationToken cancellationToken)
    {
        var cached = _cached;
        var now = _time.GetUtcNow();
        if (cached is not null && now < cached.RefreshAt)
        {
            return cached.Token;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            cached = _cached;
            now = _time.GetUtcNow();
            if (cached is not null && now < cached.RefreshAt)
            {
                return cached.Token;
            }

            var svid = await _fetch(_audience, cancellationToken).ConfigureAwait(false);
            Fetches++;
            var issued = svid.IssuedAt ?? now;
            var refreshAt = issued + ((svid.Expiry - issued) / 2);
            _cached = new Cached(svid.Token, refreshAt);
            return svid.Token;
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed record Cached(string Token, DateTimeOffset RefreshAt);
}
