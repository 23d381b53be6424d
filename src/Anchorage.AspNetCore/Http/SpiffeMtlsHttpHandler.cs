using Anchorage.AspNetCore.Internal;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.AspNetCore.Http;

/// <summary>
/// An HTTP handler for SPIFFE mTLS (go-spiffe's <c>tlsconfig.MTLSClientConfig</c> over
/// <c>http.Transport</c>): a <see cref="SocketsHttpHandler"/> that presents the current X.509-SVID
/// and accepts only a server whose SVID verifies with the bundle of its own trust domain and that
/// the <see cref="Authorizer"/> allows. When the SVID rotates, new requests go to a fresh pool
/// built with the new SVID; the old pool takes no new request, and is disposed after
/// <see cref="SpiffeMtlsHttpHandlerOptions.RetiredPoolGrace"/> so requests already under way
/// finish. TLS session resumption is off.
/// </summary>
public sealed class SpiffeMtlsHttpHandler : HttpMessageHandler
{
    private readonly IX509SvidSource _svids;
    private readonly IX509BundleSource _bundles;
    private readonly Authorizer _authorizer;
    private readonly SpiffeMtlsHttpHandlerOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Pool? _current;
    private bool _disposed;

    /// <summary>Creates the handler; nothing connects until the first request.</summary>
    /// <param name="svids">The client's SVID, read at every request.</param>
    /// <param name="bundles">The X.509 bundles that verify the server.</param>
    /// <param name="serverAuthorizer">Which verified server IDs are allowed.</param>
    /// <param name="options">Pool settings; defaults when null.</param>
    /// <param name="logger">Where rotations are logged; none when null.</param>
    public SpiffeMtlsHttpHandler(
        IX509SvidSource svids,
        IX509BundleSource bundles,
        Authorizer serverAuthorizer,
        SpiffeMtlsHttpHandlerOptions? options = null,
        ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        ArgumentNullException.ThrowIfNull(serverAuthorizer);
        _svids = svids;
        _bundles = bundles;
        _authorizer = serverAuthorizer;
        _options = options ?? new SpiffeMtlsHttpHandlerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.RetiredPoolGrace, TimeSpan.Zero, "options.RetiredPoolGrace");
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>How many connection pools have been built so far (one per SVID served).</summary>
    public int PoolsCreated { get; private set; }

    /// <inheritdoc/>
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await SourceReadiness.WaitAsync(_svids, _bundles, cancellationToken).ConfigureAwait(false);
        var pool = PoolFor(_svids.GetX509Svid());
        return await pool.Invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
        throw new NotSupportedException("SpiffeMtlsHttpHandler is asynchronous only: use SendAsync");

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_lock)
            {
                _disposed = true;
                _current?.Dispose();
                _current = null;
            }
        }

        base.Dispose(disposing);
    }

    private Pool PoolFor(X509Svid svid)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && ReferenceEquals(current.Svid, svid))
        {
            return current;
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is not null && ReferenceEquals(_current.Svid, svid))
            {
                return _current;
            }

            var retired = _current;
            var fresh = new Pool(svid, Build(svid));
            Volatile.Write(ref _current, fresh);
            PoolsCreated++;
            if (retired is not null)
            {
                Log.ClientSvidRotated(_logger, svid.Leaf.SerialNumber);
                retired.RetireAfter(_options.RetiredPoolGrace, _options.TimeProvider);
            }

            return fresh;
        }
    }

    private SocketsHttpHandler Build(X509Svid svid)
    {
        // Built from the SVID we just read, so the pool and its certificate always agree.
        var ssl = SpiffeTls.MtlsClient(svid, _bundles, _authorizer, _options.TimeProvider);
        ssl.AllowTlsResume = false;
        var handler = new SocketsHttpHandler
        {
            SslOptions = ssl,
            PooledConnectionIdleTimeout = _options.PooledConnectionIdleTimeout,
            EnableMultipleHttp2Connections = true,
            UseProxy = false,
        };
        _options.ConfigureHandler?.Invoke(handler);
        return handler;
    }

    private sealed class Pool(X509Svid svid, SocketsHttpHandler handler) : IDisposable
    {
        private ITimer? _timer;

        public X509Svid Svid { get; } = svid;

        public HttpMessageInvoker Invoker { get; } = new(handler, disposeHandler: true);

        public void RetireAfter(TimeSpan grace, TimeProvider time) =>
            _timer = time.CreateTimer(_ => Dispose(), null, grace, Timeout.InfiniteTimeSpan);

        public void Dispose()
        {
            _timer?.Dispose();
            Invoker.Dispose();
        }
    }
}
