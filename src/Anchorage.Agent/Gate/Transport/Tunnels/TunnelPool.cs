using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Foundation.Retry;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The tunnels of one (local SVID, peer address): mTLS connections offering
/// <see cref="TunnelProtocol.Alpn"/>, each carrying up to the peer's
/// SETTINGS_MAX_CONCURRENT_STREAMS streams; another tunnel is opened when all are full (one
/// connect at a time, shared by the callers waiting for it). A tunnel without streams for
/// <c>idleTimeout</c> is closed. A rotated SVID gets a new pool; this one is retired
/// (<see cref="Retire"/>): it opens no stream, its tunnels close as their last stream ends.
/// A tunnel the peer refused (mTLS handshake failed, provenance hello refused) is not dialed
/// again for a backoff (<see cref="RetryInitial"/> doubling to <see cref="RetryMax"/>, jittered):
/// meanwhile a connection that needs a new tunnel fails at once with the same error, so a
/// refusing peer costs neither side a handshake per connection. A change of what the refusal may
/// have been about (the bundles, the agent's own SVID) ends the wait; a tunnel made ends it too.
/// </summary>
internal sealed class TunnelPool : IAsyncDisposable
{
    private readonly Func<X509Svid?> _agentSvid;
    private readonly X509SvidVerifier _verifier;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeSpan _connectTimeout;
    private readonly string _host;
    private readonly int _port;
    private readonly List<TunnelClientConnection> _connections = [];
    private readonly Lock _gate = new();
    private readonly ITimer _sweep;
    private readonly Backoff _backoff;
    private Task<TunnelClientConnection>? _connecting;
    private BundleSet _bundles = BundleSet.Empty;
    private bool _retired;
    private Refusal? _refusal;

    /// <summary>The first wait after a refused tunnel.</summary>
    public static readonly TimeSpan RetryInitial = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait after refused tunnels.</summary>
    public static readonly TimeSpan RetryMax = TimeSpan.FromSeconds(30);

    /// <summary>A pool; <c>agentSvid</c> gives the agent's own SVID now (null: tunnels opened from now carry no provenance).</summary>
    public TunnelPool(X509Svid svid, string host, int port, X509SvidVerifier verifier, TimeProvider time, TimeSpan idleTimeout, TimeSpan connectTimeout, Func<X509Svid?> agentSvid)
    {
        _agentSvid = agentSvid;
        Svid = svid;
        _host = host;
        _port = port;
        _verifier = verifier;
        _time = time;
        _idleTimeout = idleTimeout;
        _connectTimeout = connectTimeout;
        _backoff = new Backoff(RetryInitial, RetryMax, time);
        Authority = (host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host) + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var period = idleTimeout / 2;
        _sweep = time.CreateTimer(static p => ((TunnelPool)p!).Sweep(), this, period, period);
    }

    public X509Svid Svid { get; }

    /// <summary>The destination, as the <c>:authority</c> of each stream.</summary>
    public string Authority { get; }

    /// <summary>Tunnels open now (for tests and the bench).</summary>
    public int Tunnels
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count(c => !c.IsClosed);
            }
        }
    }

    /// <summary>The bundles the newest dial saw: the ones the next tunnel verifies its peer with.</summary>
    public void UseBundles(BundleSet bundles) => Volatile.Write(ref _bundles, bundles);

    /// <summary>Opens a stream on a tunnel with room, or on a new tunnel; null when this pool was retired meanwhile.</summary>
    /// <exception cref="NotATunnelPeerException">The peer did not select the tunnel ALPN id.</exception>
    /// <exception cref="TunnelHandshakeException">The mTLS handshake failed.</exception>
    /// <exception cref="TunnelPeerRejectedException">The tunnel's peer does not satisfy <paramref name="authorizer"/>.</exception>
    /// <exception cref="TunnelRefusedException">The peer refused the stream.</exception>
    /// <exception cref="IOException">The tunnel failed.</exception>
    /// <exception cref="SocketException">The peer could not be reached.</exception>
    /// <remarks><c>statement</c> signs the stream's origin statement for a tunnel that carries provenance (given the tunnel's agent SVID and binding).</remarks>
    public async Task<(TunnelClientConnection Tunnel, TunnelStream Stream)?> OpenStreamAsync(
        string connectionId, Authorizer authorizer, Func<X509Svid, Provenance.TunnelBinding, string> statement, CancellationToken cancellationToken)
    {
        while (true)
        {
            TunnelClientConnection? chosen = null;
            Task<TunnelClientConnection> pending;
            lock (_gate)
            {
                if (_retired)
                {
                    return null;
                }

                // A tunnel whose hello sent another agent SVID than today's (rotated, or provenance
                // started or stopped) takes no new stream; it closes when idle.
                var agent = _agentSvid();
                _connections.RemoveAll(c => c.IsClosed);
                chosen = _connections.FirstOrDefault(c => ReferenceEquals(c.HelloAgent, agent) && c.TryReserve());
                if (chosen is null && _connecting is null && _refusal is { } refusal)
                {
                    if (refusal.Holds(_time.GetUtcNow(), Volatile.Read(ref _bundles), agent))
                    {
                        throw refusal.Again(_time.GetUtcNow());
                    }

                    _refusal = null;
                }

                pending = chosen is null ? _connecting ??= ConnectAsync() : Task.FromResult(chosen);
            }

            if (chosen is not null)
            {
                // The tunnel's verified peer must be the one this connection expects, before any CONNECT.
                if (!authorizer.Authorize(chosen.Peer.Id).IsAllowed)
                {
                    chosen.Unreserve();
                    throw new TunnelPeerRejectedException($"peer {chosen.Peer.Id} is not the expected peer");
                }

                var origin = chosen is { AgentSvid: { } signer, Binding: { } binding } ? statement(signer, binding) : null;
                return (chosen, await chosen.OpenAsync(Authority, connectionId, origin, cancellationToken).ConfigureAwait(false));
            }

            await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>No new streams: each tunnel closes when its last stream ends (SVID rotation: open streams drain).</summary>
    public void Retire()
    {
        List<TunnelClientConnection> idle;
        lock (_gate)
        {
            _retired = true;
            idle = [.. _connections.Where(c => c.Streams == 0)];
        }

        _sweep.Dispose();

        foreach (var connection in idle)
        {
            CloseInBackground(connection);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sweep.DisposeAsync().ConfigureAwait(false);
        List<TunnelClientConnection> all;
        lock (_gate)
        {
            _retired = true;
            all = [.. _connections];
            _connections.Clear();
        }

        foreach (var connection in all)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static void CloseInBackground(TunnelClientConnection connection) =>
        _ = Task.Run(async () => await connection.DisposeAsync().ConfigureAwait(false));

    private void Sweep()
    {
        List<TunnelClientConnection> idle;
        lock (_gate)
        {
            idle = [.. _connections.Where(c => c.Streams == 0 && _time.GetElapsedTime(c.IdleSince) >= _idleTimeout)];
            _connections.RemoveAll(c => idle.Contains(c) || c.IsClosed);
        }

        foreach (var connection in idle)
        {
            CloseInBackground(connection);
        }
    }

    private void OnStreamsEnded(TunnelClientConnection connection)
    {
        bool close;
        lock (_gate)
        {
            close = _retired && connection.Streams == 0;
        }

        if (close)
        {
            CloseInBackground(connection);
        }
    }

    private async Task<TunnelClientConnection> ConnectAsync()
    {
        var bundles = Volatile.Read(ref _bundles);
        var agent = _agentSvid();
        try
        {
            using var timeout = new CancellationTokenSource(_connectTimeout, _time);
            var connection = await DialAsync(bundles, agent, timeout.Token).ConfigureAwait(false);
            lock (_gate)
            {
                _connections.Add(connection);
                _backoff.Reset();
            }

            return connection;
        }
        catch (Exception e) when (e is TunnelHandshakeException or TunnelRefusedException)
        {
            // The peer said no: not again until the backoff has passed or what it judged changed.
            lock (_gate)
            {
                _refusal = new Refusal(e, _time.GetUtcNow() + _backoff.Next(), bundles, agent);
            }

            throw;
        }
        finally
        {
            lock (_gate)
            {
                _connecting = null;
            }
        }
    }

    private async Task<TunnelClientConnection> DialAsync(BundleSet bundles, X509Svid? agent, CancellationToken cancellationToken)
    {
        await Task.Yield(); // the caller holds the pool's lock
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? tls = null;
        try
        {
            await socket.ConnectAsync(_host, _port, cancellationToken).ConfigureAwait(false);
            var check = new PeerCheck(_verifier, bundles, Authorizer.Any());
            tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            var options = SpiffeTls.MtlsClient(Svid, bundles, Authorizer.Any(), _time);
            options.RemoteCertificateValidationCallback = check.Callback;
            options.ApplicationProtocols = [new SslApplicationProtocol(TunnelProtocol.Alpn)];
            var handshakeAt = _time.GetUtcNow();
            try
            {
                await tls.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AuthenticationException or IOException)
            {
                throw new TunnelHandshakeException(check.Error ?? e.Message, e);
            }

            if (tls.NegotiatedApplicationProtocol.ToString() != TunnelProtocol.Alpn)
            {
                throw new NotATunnelPeerException();
            }

            var connection = new TunnelClientConnection(tls, socket, new PeerSnapshot(check.PeerId, check.Chain!, handshakeAt), _time)
            {
                StreamsEnded = c => OnStreamsEnded((TunnelClientConnection)c),
            };
            try
            {
                await connection.StartAsync(cancellationToken).ConfigureAwait(false);
                if (agent is not null)
                {
                    await connection.HelloAsync(Authority, agent, Svid.Leaf, cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                tls = null; // the connection owns it now
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return connection;
        }
        catch
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }
    }

    // A refused tunnel: the error, until when it stands, and what it was judged on.
    private sealed record Refusal(Exception Error, DateTimeOffset Until, BundleSet Bundles, X509Svid? Agent)
    {
        // Each connection's bundle set is assembled anew from the cache, whose bundles are held
        // objects replaced on change: the same X.509 bundle objects mean the same trust.
        public bool Holds(DateTimeOffset now, BundleSet bundles, X509Svid? agent) =>
            now < Until && ReferenceEquals(agent, Agent) && SameX509Bundles(bundles, Bundles);

        private static bool SameX509Bundles(BundleSet a, BundleSet b) =>
            a.X509Bundles.Count == b.X509Bundles.Count
            && a.X509Bundles.All(pair => b.X509Bundles.TryGetValue(pair.Key, out var other) && ReferenceEquals(pair.Value, other));

        // A new exception per caller (one instance thrown from many would share its stack trace).
        public Exception Again(DateTimeOffset now)
        {
            var wait = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Math.Ceiling((Until - now).TotalSeconds):0}");
            var message = $"{Error.Message} (refused at the last attempt; not retried for another {wait} s)";
            return Error switch
            {
                TunnelRefusedException refused => new TunnelRefusedException(refused.Status, message),
                _ => new TunnelHandshakeException(message, Error),
            };
        }
    }
}
