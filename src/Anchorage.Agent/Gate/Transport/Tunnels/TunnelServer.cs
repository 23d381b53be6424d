using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Spiffe.Svids;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The inbound side of tunnels: Kestrel speaking HTTP/2 on tunnel connections the inbound
/// listeners accepted and authenticated (the gate does the mTLS, with the same verification as
/// the direct path; Kestrel never sees a socket). Each extended CONNECT stream with
/// <c>:protocol</c> = <see cref="TunnelProtocol.ConnectProtocol"/> is handed to the callback the
/// listener gave with its tunnel; anything else is answered 400. Kestrel enforces the per-tunnel
/// stream limit (SETTINGS_MAX_CONCURRENT_STREAMS) and HTTP/2 flow control, with windows sized so
/// that a stream whose reader stalls holds back only itself (<see cref="TunnelProtocol.InboundConnectionWindow"/>).
/// </summary>
internal sealed class TunnelServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly ListenerFactory _factory = new();
    private readonly KestrelServer _kestrel;
    private readonly Lazy<Task> _started;
    private long _next;

    /// <summary>Kestrel starts with the first tunnel.</summary>
    public TunnelServer(ILoggerFactory loggerFactory)
    {
        var options = new KestrelServerOptions
        {
            AddServerHeader = false,
            // The gate terminated TLS before Kestrel: the connection is https although Kestrel sees no TLS.
            AllowAlternateSchemes = true,
            ApplicationServices = new ServiceCollection().AddSingleton(loggerFactory).BuildServiceProvider(),
        };
        options.Limits.Http2.MaxStreamsPerConnection = TunnelProtocol.MaxStreamsPerTunnel;
        options.Limits.Http2.MaxFrameSize = TunnelProtocol.MaxFrameSize;

        // Per-stream windows hold back a slow reader; the connection window is sized so that no
        // number of stalled streams can close it (TunnelProtocol.InboundConnectionWindow).
        options.Limits.Http2.InitialStreamWindowSize = TunnelProtocol.StreamWindow;
        options.Limits.Http2.InitialConnectionWindowSize = TunnelProtocol.InboundConnectionWindow;
        options.Limits.MaxRequestBodySize = null;
        options.Limits.MinRequestBodyDataRate = null;
        options.Limits.MinResponseDataRate = null;
        options.Limits.KeepAliveTimeout = TimeSpan.FromDays(1);
        options.Listen(new IPEndPoint(IPAddress.Loopback, 0), listen => listen.Protocols = HttpProtocols.Http2);
        _kestrel = new KestrelServer(Options.Create(options), _factory, loggerFactory);
        _started = new Lazy<Task>(() => _kestrel.StartAsync(new Application(this), CancellationToken.None), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>
    /// Serves <paramref name="tunnel"/> until it closes or <paramref name="stop"/>; each stream goes to
    /// <paramref name="onStream"/>. A provenance hello (the first stream, docs/gate-transport.md) goes to
    /// <paramref name="onHello"/> with the sending agent's chain: the session it returns verifies every
    /// later stream's statement; a <see cref="ProvenanceException"/> refuses the hello (403) and every later stream of the tunnel.
    /// </summary>
    public async Task ServeAsync(
        TunnelConnection tunnel, Func<TunnelInboundChannel, Task> onStream, Func<IReadOnlyList<X509Certificate2>, ProvenanceSession> onHello, CancellationToken stop)
    {
        await _started.Value.ConfigureAwait(false);
        var id = "t" + Interlocked.Increment(ref _next).ToString(CultureInfo.InvariantCulture);
        var context = new TunnelConnectionContext(id, tunnel);
        var session = new Session(tunnel, onStream, onHello);
        _sessions[id] = session;
        try
        {
            await using (stop.Register(() => context.Abort(new ConnectionAbortedException("the gate stops"))).ConfigureAwait(false))
            {
                await _factory.Connections.Writer.WriteAsync(context, stop).ConfigureAwait(false);
                await context.Done.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The gate stops before Kestrel took the tunnel.
        }
        finally
        {
            _sessions.TryRemove(id, out _);
            session.Provenance?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _factory.Connections.Writer.TryComplete();
        if (_started.IsValueCreated)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _kestrel.StopAsync(grace.Token).ConfigureAwait(false);
        }

        _kestrel.Dispose();
    }

    private async Task ProcessAsync(IFeatureCollection features)
    {
        var response = features.Get<IHttpResponseFeature>()!;
        var connect = features.Get<IHttpExtendedConnectFeature>();
        if (connect is not { IsExtendedConnect: true } || connect.Protocol is not (TunnelProtocol.ConnectProtocol or TunnelProtocol.HelloProtocol))
        {
            response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var connectionId = features.Get<IHttpConnectionFeature>()?.ConnectionId;
        if (connectionId is null || !_sessions.TryGetValue(connectionId, out var session))
        {
            response.StatusCode = StatusCodes.Status421MisdirectedRequest;
            return;
        }

        var request = features.Get<IHttpRequestFeature>()!;
        if (connect.Protocol == TunnelProtocol.HelloProtocol)
        {
            await HelloAsync(session, connect, request, response).ConfigureAwait(false);
            return;
        }

        // A stream before any hello: this tunnel carries no provenance, and a later hello is refused.
        if (!session.TryStartStream(out var provenance))
        {
            response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        var sender = request.Headers[TunnelProtocol.ConnectionIdHeader].ToString();
        var origin = request.Headers[TunnelProtocol.OriginHeader].ToString();
        var channel = new TunnelInboundChannel(features, session.Tunnel, sender.Length == 0 ? null : sender)
        {
            PeerId = session.Tunnel.PeerId,
            PeerChain = session.Tunnel.PeerChain,
            HandshakeAt = session.Tunnel.HandshakeAt,
            Provenance = provenance,
            OriginStatement = origin.Length == 0 ? null : origin,
        };
        try
        {
            await session.OnStream(channel).ConfigureAwait(false);
        }
        finally
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    // The hello: at most one, before any stream; the agent's chain verified by the listener's callback.
    private static async Task HelloAsync(Session session, IHttpExtendedConnectFeature connect, IHttpRequestFeature request, IHttpResponseFeature response)
    {
        var field = request.Headers[TunnelProtocol.AgentChainHeader].ToString();
        ProvenanceSession accepted;
        try
        {
            if (!session.TryBeginHello())
            {
                throw new ProvenanceException("the provenance hello came after a stream or another hello");
            }

            accepted = session.OnHello(ParseChain(field));
        }
        catch (ProvenanceException)
        {
            // The listener audited why; every later stream of the tunnel is refused too.
            session.Refuse();
            response.StatusCode = StatusCodes.Status403Forbidden;
            return;
        }

        session.Provenance = accepted;
        var stream = await connect.AcceptAsync().ConfigureAwait(false);

        // The hello's request is empty and already ended: read its end first, so the response
        // completes a finished request (Kestrel would otherwise reset the stream after it).
        using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var rest = new byte[256];
        try
        {
            while (await stream.ReadAsync(rest, drain.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
            // A client that never ends the hello gets its nonce anyway; Kestrel resets the stream after.
        }

        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(accepted.Binding.Nonce)).ConfigureAwait(false);
    }

    private static List<X509Certificate2> ParseChain(string field)
    {
        var parts = field.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length is 0 or > X509SvidVerifier.MaxIntermediates + 1)
        {
            throw new ProvenanceException($"the provenance hello's {TunnelProtocol.AgentChainHeader} holds {parts.Length} certificates (1 to {X509SvidVerifier.MaxIntermediates + 1})");
        }

        try
        {
            return [.. parts.Select(p => X509CertificateLoader.LoadCertificate(Convert.FromBase64String(p)))];
        }
        catch (Exception e) when (e is FormatException or CryptographicException)
        {
            throw new ProvenanceException($"the provenance hello's {TunnelProtocol.AgentChainHeader} is not base64 DER certificates: {e.Message}");
        }
    }

    private sealed class Session(
        TunnelConnection tunnel, Func<TunnelInboundChannel, Task> onStream, Func<IReadOnlyList<X509Certificate2>, ProvenanceSession> onHello)
    {
        private readonly Lock _lock = new();
        private bool _used;
        private bool _refused;
        private ProvenanceSession? _provenance;

        public TunnelConnection Tunnel => tunnel;

        public Func<TunnelInboundChannel, Task> OnStream => onStream;

        public Func<IReadOnlyList<X509Certificate2>, ProvenanceSession> OnHello => onHello;

        public ProvenanceSession? Provenance
        {
            get
            {
                lock (_lock)
                {
                    return _provenance;
                }
            }

            set
            {
                lock (_lock)
                {
                    _provenance = value;
                }
            }
        }

        /// <summary>True for the first hello or stream of the tunnel.</summary>
        public bool TryBeginHello()
        {
            lock (_lock)
            {
                var first = !_used;
                _used = true;
                return first;
            }
        }

        /// <summary>A stream starts: no hello may follow; false when the hello was refused (so is the stream); else the provenance the hello set up, if any.</summary>
        public bool TryStartStream(out ProvenanceSession? provenance)
        {
            lock (_lock)
            {
                _used = true;
                provenance = _provenance;
                return !_refused;
            }
        }

        /// <summary>The hello was refused: so is every stream of the tunnel.</summary>
        public void Refuse()
        {
            lock (_lock)
            {
                _refused = true;
            }
        }
    }

    private sealed class Application(TunnelServer server) : IHttpApplication<IFeatureCollection>
    {
        public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

        public Task ProcessRequestAsync(IFeatureCollection context) => server.ProcessAsync(context);

        public void DisposeContext(IFeatureCollection context, Exception? exception)
        {
        }
    }

    private sealed class ListenerFactory : IConnectionListenerFactory
    {
        public Channel<ConnectionContext> Connections { get; } = Channel.CreateBounded<ConnectionContext>(64);

        public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            new(new Listener(endpoint, Connections.Reader));
    }

    private sealed class Listener(EndPoint endpoint, ChannelReader<ConnectionContext> connections) : IConnectionListener
    {
        private readonly CancellationTokenSource _unbound = new();

        public EndPoint EndPoint => endpoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _unbound.Token);
            try
            {
                return await connections.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            _unbound.Cancel();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            _unbound.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
