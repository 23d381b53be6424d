using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation.Internal;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Spiffe.Federation;

/// <summary>
/// Fetches a federated trust domain's bundle from its bundle endpoint (SPIFFE_Trust_Domain_and_Bundle §5)
/// and checks everything before handing it out: the endpoint's authentication (§5.2), the HTTP
/// exchange, the document (§4) and how it relates to the bundle stored now. A rejected fetch returns
/// an error and no bundle, so the caller keeps its last good one. Thread-safe.
/// </summary>
/// <remarks>
/// <para>Each fetch uses its own connections (no pool shared between relationships or fetches, no TLS
/// session resumption), so every hop of every fetch is authenticated by the rules of its own
/// relationship with the bundle current at that moment.</para>
/// <para>Rejected, with a one-line <see cref="BundleFetchResult.Error"/> that starts with the URL of the hop:</para>
/// <list type="bullet">
/// <item>TLS (§5.2.1 https_web): a certificate that does not chain to the system roots nor to the extra
/// roots (the relationship's caBundle, <see cref="BundleFetcherOptions.ExtraWebRoots"/>), or is not for
/// the URL's host.</item>
/// <item>TLS (§5.2.2 https_spiffe): no stored bundle of the trust domain; a certificate that is not an
/// X.509-SVID verifying with that bundle; an SVID of another trust domain or with another SPIFFE ID
/// than the relationship's endpoint SPIFFE ID. Host names are not checked.</item>
/// <item>HTTP: a status other than 200 (after redirects); a body over <see cref="BundleFetcherOptions.MaxBodyBytes"/>;
/// more than <see cref="BundleFetcherOptions.MaxRedirects"/> redirects, or one to a non-https URL or
/// without a Location; no answer within <see cref="BundleFetcherOptions.Timeout"/>; connection errors.</item>
/// <item>Document: whatever <see cref="SpiffeBundle.Parse(Ids.TrustDomain, ReadOnlySpan{byte}, out IReadOnlyList{string})"/>
/// refuses, parsed for the relationship's trust domain only (§5: the tuple binds the endpoint to its
/// trust domain; the document never names one); an X.509 authority whose URI SAN names another trust
/// domain (so another domain's bundle served by mistake is caught when its CAs say whose they are,
/// as SPIRE's and Anchorage's do); a <c>spiffe_sequence</c> lower than the stored one (§4.1.1:
/// monotonically increasing); a bundle without <c>spiffe_sequence</c> while the stored one has one
/// (stripping the member would switch the rollback check off); a bundle whose every key was ignored
/// while the stored one has authorities. An explicit <c>"keys": []</c> is accepted: it says "trust nothing".</item>
/// </list>
/// <para>Accepted with a warning: an equal sequence with different authorities (§4.1.1 says it MUST
/// change) and the parser's notes on ignored keys.</para>
/// </remarks>
public sealed class BundleFetcher : IDisposable
{
    private readonly TimeProvider _time;
    private readonly BundleFetcherOptions _options;
    private readonly X509SvidVerifier _verifier;
    private bool _disposed;

    /// <summary>Creates a fetcher; <paramref name="time"/> is the clock for certificate validity and the timeout.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public BundleFetcher(TimeProvider time, BundleFetcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        options ??= new BundleFetcherOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBodyBytes, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxBodyBytes, SpiffeBundle.MaxSize, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.Timeout, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRedirects, nameof(options));
        _time = time;
        _options = options;
        _verifier = new X509SvidVerifier(time);
    }

    /// <summary>
    /// GETs <see cref="BundleEndpoint.Url"/> (following redirects by hand, each with the same
    /// checks) and checks the endpoint and the bundle; see the class remarks for every rule.
    /// Never throws for network or peer problems: they are a rejected result.
    /// </summary>
    /// <param name="relationship">The federation relationship's endpoint: whose bundle, from where, authenticated how.</param>
    /// <param name="current">The latest stored bundle of the relationship's trust domain (the bootstrap bundle before the first fetch); null when there is none.</param>
    /// <param name="cancellationToken">Cancels the fetch (an <see cref="OperationCanceledException"/>, not a result).</param>
    /// <exception cref="ArgumentException">
    /// The URL is not absolute https; an https_spiffe relationship has no endpoint SPIFFE ID or one of
    /// another trust domain; <paramref name="current"/> is of another trust domain.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The fetcher was disposed.</exception>
    public async Task<BundleFetchResult> FetchAsync(BundleEndpoint relationship, SpiffeBundle? current, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckArguments(relationship, current);
        cancellationToken.ThrowIfCancellationRequested();

        var url = relationship.Url;
        if (relationship.Profile == BundleEndpointProfile.HttpsSpiffe && current is null)
        {
            return Reject(url, null, $"no bundle of {relationship.TrustDomain} to authenticate its endpoint; apply a bootstrapBundle");
        }

        X509Certificate2Collection webRoots;
        try
        {
            webRoots = WebRoots(relationship);
        }
        catch (CryptographicException ex)
        {
            return Reject(url, null, $"caBundle is not valid PEM: {ex.Message}");
        }

        var authenticator = new EndpointAuthenticator(relationship, current, webRoots, _time, _verifier);
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using var handler = CreateHandler(authenticator);
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

        var at = url;
        int? status = null;
        try
        {
            for (var redirects = 0; ; redirects++)
            {
                authenticator.Begin(at);
                status = null;
                using var request = new HttpRequestMessage(HttpMethod.Get, at);
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                var sent = _time.GetUtcNow();
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
                var received = _time.GetUtcNow();
                status = (int)response.StatusCode;
                if (IsRedirect(response.StatusCode))
                {
                    if (redirects == _options.MaxRedirects)
                    {
                        return Reject(at, status, Invariant($"more than {_options.MaxRedirects} redirects"));
                    }

                    if (response.Headers.Location is not { } location)
                    {
                        return Reject(at, status, Invariant($"redirect (HTTP status {status}) without a Location header"));
                    }

                    var next = location.IsAbsoluteUri ? location : new Uri(at, location);
                    if (next.Scheme != Uri.UriSchemeHttps)
                    {
                        return Reject(at, status, $"redirect to {next.GetLeftPart(UriPartial.Path)} is not https");
                    }

                    at = next;
                    continue;
                }

                if (response.StatusCode != HttpStatusCode.OK)
                {
                    return Reject(at, status, Invariant($"HTTP status {status}, expected 200"));
                }

                var skew = response.Headers.Date is { } date ? date - (sent + ((received - sent) / 2)) : (TimeSpan?)null;
                var body = await ReadBodyAsync(response, linked.Token).ConfigureAwait(false);
                return (body is null
                    ? Reject(at, status, Invariant($"body larger than {_options.MaxBodyBytes} bytes"))
                    : Check(relationship, current, at, status.Value, body)) with { ClockSkew = skew };
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && timeout.IsCancellationRequested)
        {
            return Reject(at, status, $"no answer within {Seconds(_options.Timeout)}");
        }
        catch (HttpRequestException ex)
        {
            return Reject(at, status, authenticator.Failure is { } failure ? "TLS: " + failure : Describe(ex));
        }
        catch (IOException ex)
        {
            return Reject(at, status, $"connection failed while reading the body: {ex.Message}");
        }
    }

    /// <summary>Marks the fetcher disposed; fetches in flight finish.</summary>
    public void Dispose() => _disposed = true;

    private static void CheckArguments(BundleEndpoint relationship, SpiffeBundle? current)
    {
        ArgumentNullException.ThrowIfNull(relationship);
        if (!relationship.Url.IsAbsoluteUri || relationship.Url.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"bundle endpoint URL {relationship.Url} must be absolute https", nameof(relationship));
        }

        if (relationship.Profile == BundleEndpointProfile.HttpsSpiffe &&
            (relationship.EndpointSpiffeId is not { } id || id.TrustDomain != relationship.TrustDomain))
        {
            throw new ArgumentException(
                $"an https_spiffe relationship needs an endpoint SPIFFE ID in {relationship.TrustDomain}", nameof(relationship));
        }

        if (current is not null && current.TrustDomain != relationship.TrustDomain)
        {
            throw new ArgumentException(
                $"current bundle is of {current.TrustDomain}, not {relationship.TrustDomain}", nameof(current));
        }
    }

    private X509Certificate2Collection WebRoots(BundleEndpoint relationship)
    {
        var roots = new X509Certificate2Collection();
        if (relationship.Profile != BundleEndpointProfile.HttpsWeb)
        {
            return roots;
        }

        if (!string.IsNullOrWhiteSpace(relationship.CaBundlePem))
        {
            roots.ImportFromPem(relationship.CaBundlePem);
        }

        if (_options.ExtraWebRoots is { } extra)
        {
            roots.AddRange(extra);
        }

        return roots;
    }

    private SocketsHttpHandler CreateHandler(EndpointAuthenticator authenticator) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = _options.Timeout,
        SslOptions = new SslClientAuthenticationOptions
        {
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,

            // A resumed session skips the certificate check; every fetch authenticates afresh.
            AllowTlsResume = false,
            RemoteCertificateValidationCallback = authenticator.Validate,
        },
    };

    /// <summary>The body, or null when it is larger than the limit (read no further than one byte past it).</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var limit = _options.MaxBodyBytes;
        if (response.Content.Headers.ContentLength is > 0 and var length && length > limit)
        {
            return null;
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[Math.Min(limit + 1, 16 * 1024)];
            using var body = new MemoryStream();
            while (true)
            {
                var want = (int)Math.Min(buffer.Length, limit + 1 - body.Length);
                var read = await stream.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return body.ToArray();
                }

                body.Write(buffer, 0, read);
                if (body.Length > limit)
                {
                    return null;
                }
            }
        }
    }

    private static BundleFetchResult Check(BundleEndpoint relationship, SpiffeBundle? current, Uri at, int status, byte[] body)
    {
        var trustDomain = relationship.TrustDomain;
        SpiffeBundle bundle;
        IReadOnlyList<string> notes;
        try
        {
            // §5 / §6.1: the bundle is the relationship's trust domain's, whatever the document holds.
            bundle = SpiffeBundle.Parse(trustDomain, body, out notes);
        }
        catch (FormatException ex)
        {
            return Reject(at, status, $"not a SPIFFE bundle: {ex.Message}");
        }

        foreach (var authority in bundle.X509Authorities)
        {
            if (X509Svid.TryGetSpiffeId(authority, out var named) && named.TrustDomain != trustDomain)
            {
                return Reject(at, status,
                    $"X.509 authority {BundleComparison.AuthorityName(authority)} names trust domain {named.TrustDomain}, not {trustDomain}",
                    bundle);
            }
        }

        var stored = current?.SequenceNumber;
        if (stored is { } before && bundle.SequenceNumber is { } after && after < before)
        {
            return Reject(at, status, Invariant($"sequence rollback from {before} to {after}"), bundle);
        }

        // A sequence that disappears would switch the rollback check off for every later fetch:
        // an attacker replaying an old bundle would only have to strip the member.
        if (stored is { } had && bundle.SequenceNumber is null)
        {
            return Reject(at, status, Invariant($"bundle has no spiffe_sequence while the current bundle's is {had}"), bundle);
        }

        var storedAuthorities = current is null ? 0 : current.X509Authorities.Length + current.JwtAuthorities.Length;
        var authorities = bundle.X509Authorities.Length + bundle.JwtAuthorities.Length;

        // With no authorities, the parser's notes are the ignored keys: none means "keys": [].
        if (authorities == 0 && notes.Count > 0 && storedAuthorities > 0)
        {
            return Reject(at, status,
                Invariant($"bundle has no usable keys ({notes.Count} ignored) while the current bundle has {storedAuthorities} authorities"),
                bundle);
        }

        var (added, removed) = BundleComparison.Diff(current, bundle);
        var warnings = new List<string>(notes);
        if (stored is { } sequence && bundle.SequenceNumber == sequence && (added.Count > 0 || removed.Count > 0))
        {
            warnings.Add(Invariant($"spiffe_sequence {sequence} is unchanged but the authorities changed"));
        }

        return new BundleFetchResult
        {
            Accepted = true,
            Bundle = bundle,
            Changed = current is null || !BundleComparison.SameContent(current, bundle, added, removed),
            FinalUrl = at,
            HttpStatus = status,
            Sequence = bundle.SequenceNumber,
            RefreshHint = bundle.RefreshHint,
            AuthoritiesAdded = added,
            AuthoritiesRemoved = removed,
            Warnings = warnings,
        };
    }

    private static BundleFetchResult Reject(Uri at, int? status, string error, SpiffeBundle? parsed = null) => new()
    {
        Error = $"{at.GetLeftPart(UriPartial.Path)}: {error}",
        FinalUrl = at,
        HttpStatus = status,
        Sequence = parsed?.SequenceNumber,
        RefreshHint = parsed?.RefreshHint,
    };

    private static bool IsRedirect(HttpStatusCode status) => status is
        HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or
        HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    private static string Describe(HttpRequestException ex)
    {
        var inner = ex.InnerException;
        while (inner?.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        var detail = FirstLine(inner?.Message ?? ex.Message);
        return ex.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => $"cannot resolve host: {detail}",
            HttpRequestError.ConnectionError => $"connection failed: {detail}",
            HttpRequestError.SecureConnectionError => $"TLS handshake failed: {detail}",
            _ => $"request failed: {FirstLine(ex.Message)}",
        };
    }

    private static string FirstLine(string text)
    {
        var end = text.AsSpan().IndexOfAny('\r', '\n');
        return end < 0 ? text : text[..end];
    }

    private static string Seconds(TimeSpan span) => Invariant($"{span.TotalSeconds:0.###}s");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
