using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// The inbound side of tunnels: serves each tunnel connection the inbound listeners accepted and
/// authenticated (the gate does the mTLS, with the same verification as the direct path) with a
/// <see cref="TunnelServerConnection"/>. Each extended CONNECT stream with <c>:protocol</c> =
/// <see cref="TunnelProtocol.ConnectProtocol"/> is handed to the callback the listener gave with its
/// tunnel; the provenance hello (<see cref="TunnelProtocol.HelloProtocol"/>) is answered here;
/// anything else is answered 400.
/// </summary>
internal sealed class TunnelServer(TimeProvider time)
{
    /// <summary>
    /// Serves <paramref name="tunnel"/> until it closes or <paramref name="stop"/>, and until every
    /// stream's callback returned; each stream goes to <paramref name="onStream"/>. A provenance hello
    /// (the first stream, docs/gate-transport.md) goes to <paramref name="onHello"/> with the sending
    /// agent's chain: the session it returns verifies every later stream's statement; a
    /// <see cref="ProvenanceException"/> refuses the hello (403) and every later stream of the tunnel.
    /// </summary>
    public async Task ServeAsync(
        TunnelConnection tunnel, Func<TunnelInboundChannel, Task> onStream, Func<IReadOnlyList<X509Certificate2>, ProvenanceSession> onHello, CancellationToken stop)
    {
        var session = new Session(tunnel, onStream, onHello);
        var connection = new TunnelServerConnection(
            tunnel, time, (stream, request) => session.Track(Task.Run(() => ProcessAsync(session, stream, request), CancellationToken.None)));
        try
        {
            connection.Start();
            var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (stop.Register(() => stopped.TrySetResult()).ConfigureAwait(false))
            {
                await Task.WhenAny(connection.Completion, stopped.Task).ConfigureAwait(false);
            }
        }
        finally
        {
            // Closing fails every open stream, so each callback's splice ends.
            await connection.DisposeAsync().ConfigureAwait(false);
            try
            {
                await session.DrainAsync().ConfigureAwait(false);
            }
            finally
            {
                session.Provenance?.Dispose();
            }
        }
    }

    private static async Task ProcessAsync(Session session, TunnelStream stream, TunnelRequest request)
    {
        if (!request.IsExtendedConnect || request.Protocol is not (TunnelProtocol.ConnectProtocol or TunnelProtocol.HelloProtocol))
        {
            stream.Refuse(400);
            return;
        }

        if (request.Protocol == TunnelProtocol.HelloProtocol)
        {
            await HelloAsync(session, stream, request).ConfigureAwait(false);
            return;
        }

        // A stream before any hello: this tunnel carries no provenance, and a later hello is refused.
        if (!session.TryStartStream(out var provenance))
        {
            stream.Refuse(403);
            return;
        }

        var channel = new TunnelInboundChannel(stream, session.Tunnel, string.IsNullOrEmpty(request.ConnectionId) ? null : request.ConnectionId)
        {
            PeerId = session.Tunnel.PeerId,
            PeerChain = session.Tunnel.PeerChain,
            HandshakeAt = session.Tunnel.HandshakeAt,
            Provenance = provenance,
            OriginStatement = string.IsNullOrEmpty(request.Origin) ? null : request.Origin,
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

    // The hello: at most one, before any stream; the agent's chain verified by the listener's callback;
    // answered 200 with the tunnel's nonce as the body.
    private static async Task HelloAsync(Session session, TunnelStream stream, TunnelRequest request)
    {
        ProvenanceSession accepted;
        try
        {
            if (!session.TryBeginHello())
            {
                throw new ProvenanceException("the provenance hello came after a stream or another hello");
            }

            accepted = session.OnHello(ParseChain(request.AgentChain ?? string.Empty));
        }
        catch (ProvenanceException)
        {
            // The listener audited why; every later stream of the tunnel is refused too.
            session.Refuse();
            stream.Refuse(403);
            return;
        }

        // The stream leaves the tunnel once the client's (empty) request has ended too.
        session.Provenance = accepted;
        stream.Respond(200);
        try
        {
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(accepted.Binding.Nonce)).ConfigureAwait(false);
            stream.CompleteWrites();
        }
        catch (IOException)
        {
            // The tunnel or the stream closed: nothing to answer.
            stream.Reset();
        }
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
        private readonly ConcurrentDictionary<Task, byte> _streams = new();
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

        /// <summary>A stream's callback runs: the tunnel's serving waits for it.</summary>
        public Task Track(Task stream)
        {
            _streams.TryAdd(stream, 0);
            _ = stream.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _streams, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return stream;
        }

        /// <summary>Waits for the callbacks of the tunnel's streams (the tunnel is closed: no new one starts).</summary>
        public Task DrainAsync() => Task.WhenAll(_streams.Keys);

        /// <summary>The hello was refused: so is every stream of the tunnel.</summary>
        public void Refuse()
        {
            lock (_lock)
            {
                _refused = true;
            }
        }
    }
}
