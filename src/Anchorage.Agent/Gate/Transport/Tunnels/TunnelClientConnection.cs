using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One tunnel, client side: HTTP/2 (RFC 9113) with prior knowledge over an mTLS connection whose
/// peer selected <see cref="TunnelProtocol.Alpn"/>, carrying extended CONNECT streams (RFC 8441).
/// A small client of its own rather than SocketsHttpHandler, which cannot end the request side
/// of an extended CONNECT stream (no END_STREAM until the whole stream closes), so the caller's
/// half-close could not cross the tunnel (docs/gate-transport.md). The framing, windows and
/// streams are <see cref="Http2Connection"/>'s, shared with the server side.
/// </summary>
internal sealed class TunnelClientConnection : Http2Connection
{
    private readonly TaskCompletionSource _settings = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The client announces SETTINGS_HEADER_TABLE_SIZE = 0, so the server's blocks refer to no
    // dynamic table once it saw that; until then the default 4096 applies (RFC 7541 §4.2).
    private readonly HpackDecoder _decoder = new();
    private int _peerMaxStreams = TunnelProtocol.MaxStreamsPerTunnel;
    private int _nextStreamId = 1;
    private bool _extendedConnect;

    public TunnelClientConnection(SslStream tls, Socket socket, PeerSnapshot peer, TimeProvider time)
        : base(tls, socket, time)
    {
        Peer = peer;
    }

    public PeerSnapshot Peer { get; }

    /// <summary>Streams open or being opened.</summary>
    public int Streams
    {
        get
        {
            lock (Lock)
            {
                return Open.Count + Reserved;
            }
        }
    }

    /// <summary>Sends the preface and SETTINGS, then waits for the peer's SETTINGS, which must allow extended CONNECT.</summary>
    /// <exception cref="IOException">The peer closed, or does not allow extended CONNECT.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = SettingsFrame(
            (Http2Frames.SettingsHeaderTableSize, 0),
            (Http2Frames.SettingsEnablePush, 0),
            (Http2Frames.SettingsInitialWindowSize, StreamWindow),
            (Http2Frames.SettingsMaxConcurrentStreams, 0),
            (Http2Frames.SettingsMaxFrameSize, TunnelProtocol.MaxFrameSize));
        Start([.. Http2Frames.Preface, .. settings]);
        await _settings.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!_extendedConnect)
        {
            Close(new IOException("the peer gate does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)"));
            throw new IOException("the peer gate does not allow extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)");
        }
    }

    /// <summary>Reserves a stream slot under the peer's SETTINGS_MAX_CONCURRENT_STREAMS; false when full or closed.</summary>
    public bool TryReserve()
    {
        lock (Lock)
        {
            if (ClosedReason is not null || Open.Count + Reserved >= _peerMaxStreams)
            {
                return false;
            }

            Reserved++;
            return true;
        }
    }

    /// <summary>Gives back a slot <see cref="TryReserve"/> took.</summary>
    public void Unreserve()
    {
        bool ended;
        lock (Lock)
        {
            Reserved--;
            ended = Open.Count + Reserved == 0;
        }

        if (ended)
        {
            StreamsEnded?.Invoke(this);
        }
    }

    /// <summary>The agent SVID the provenance hello offered, whatever the peer answered; null: no hello.</summary>
    public X509Svid? HelloAgent { get; private set; }

    /// <summary>The agent SVID whose chain the provenance hello sent (its key signs this tunnel's statements); null: no provenance.</summary>
    public X509Svid? AgentSvid { get; private set; }

    /// <summary>What this tunnel's origin statements are bound to; null when the tunnel carries no provenance.</summary>
    public TunnelBinding? Binding { get; private set; }

    /// <summary>
    /// The provenance hello: the first stream, <c>:protocol</c> <see cref="TunnelProtocol.HelloProtocol"/>,
    /// carrying <paramref name="agent"/>'s chain; the peer answers 200 with the tunnel's nonce as the
    /// body. A peer that answers 400 (it does not know the hello) leaves the tunnel without provenance.
    /// </summary>
    /// <exception cref="TunnelRefusedException">The peer refused the agent (any other status).</exception>
    /// <exception cref="IOException">The tunnel failed, or the nonce is malformed.</exception>
    public async Task HelloAsync(string authority, X509Svid agent, X509Certificate2 localLeaf, CancellationToken cancellationToken)
    {
        HelloAgent = agent;
        if (!TryReserve())
        {
            throw new IOException("the tunnel has no room for the provenance hello");
        }

        var chain = string.Join(',', agent.Certificates.Select(c => Convert.ToBase64String(c.RawData)));
        TunnelStream hello;
        try
        {
            hello = await OpenAsync(TunnelProtocol.HelloProtocol, authority, [(TunnelProtocol.AgentChainHeader, chain)], sends: false, cancellationToken).ConfigureAwait(false);
        }
        catch (TunnelRefusedException e) when (e.Status == 400)
        {
            return;
        }

        await using (hello.ConfigureAwait(false))
        {
            var nonce = new byte[128];
            var read = 0;
            int n;
            while ((n = await hello.ReadAsync(nonce.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
            {
                read += n;
                if (read == nonce.Length)
                {
                    throw new IOException("the provenance hello's nonce is too long");
                }
            }

            var text = System.Text.Encoding.ASCII.GetString(nonce, 0, read);
            if (!System.Buffers.Text.Base64Url.IsValid(text, out var length) || length != TunnelBinding.NonceBytes)
            {
                throw new IOException("the provenance hello's nonce is not 32 bytes of base64url");
            }

            AgentSvid = agent;
            Binding = new TunnelBinding(TunnelBinding.LeafHash(localLeaf), TunnelBinding.LeafHash(Peer.Chain[0]), text);
        }
    }

    /// <summary>Opens a reserved stream: HEADERS (with the stream's origin statement when <c>origin</c> is given), then the response status (200: open).</summary>
    /// <exception cref="TunnelRefusedException">The peer answered another status.</exception>
    /// <exception cref="IOException">The tunnel or the stream failed.</exception>
    public Task<TunnelStream> OpenAsync(string authority, string connectionId, string? origin, CancellationToken cancellationToken) =>
        OpenAsync(
            TunnelProtocol.ConnectProtocol,
            authority,
            origin is null ? [(TunnelProtocol.ConnectionIdHeader, connectionId)] : [(TunnelProtocol.ConnectionIdHeader, connectionId), (TunnelProtocol.OriginHeader, origin)],
            sends: true,
            cancellationToken);

    // sends false: the request ends right after its HEADERS (the hello sends no body).
    private async Task<TunnelStream> OpenAsync(string protocol, string authority, (string Name, string Value)[] fields, bool sends, CancellationToken cancellationToken)
    {
        var block = Hpack.EncodeRequest(
        [
            (":method", "CONNECT"),
            (":protocol", protocol),
            (":scheme", "https"),
            (":path", "/"),
            (":authority", authority),
            .. fields,
        ]);
        if (block.Length > Http2Frames.DefaultMaxFrameSize)
        {
            lock (Lock)
            {
                Reserved--;
            }

            throw new IOException("the CONNECT headers do not fit one frame");
        }

        TunnelStream stream;
        lock (Lock)
        {
            Reserved--;
            if (ClosedReason is { } closed)
            {
                throw new IOException(closed.Message, closed);
            }

            // Ids are taken and HEADERS queued under one lock: the peer sees ids in increasing order.
            stream = new TunnelStream(this, _nextStreamId, PeerInitialWindow);
            _nextStreamId += 2;
            Open[stream.Id] = stream;
            SendInOrder(Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, stream.Id, block));
            if (!sends)
            {
                // The request ends at once (an empty DATA with END_STREAM right behind the HEADERS).
                stream.EndedAtOpen();
                SendInOrder(Http2Frames.Frame(Http2Frames.Data, Http2Frames.EndStream, stream.Id, []));
            }
        }

        int status;
        try
        {
            status = await stream.Status.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            stream.Reset();
            throw;
        }

        if (status != 200)
        {
            stream.Reset();
            throw new TunnelRefusedException(status);
        }

        return stream;
    }

    protected override void OnHeaders(int streamId, ReadOnlySpan<byte> block, bool endStream)
    {
        // Every block is decoded, even one for a stream already gone: the decoder's table must follow the peer's.
        var fields = _decoder.Decode(block);
        TunnelStream? stream;
        lock (Lock)
        {
            stream = Open.GetValueOrDefault(streamId);
        }

        if (stream is null || stream.Status.IsCompleted)
        {
            return; // trailers, or a stream already gone: nothing the tunnel needs
        }

        stream.OnStatus(Hpack.StatusOf(fields), endStream);
    }

    protected override void OnSetting(ushort id, uint value)
    {
        switch (id)
        {
            case Http2Frames.SettingsMaxConcurrentStreams:
                _peerMaxStreams = (int)Math.Min(value, int.MaxValue);
                break;
            case Http2Frames.SettingsEnableConnectProtocol:
                _extendedConnect = value == 1;
                break;
            default:
                break;
        }
    }

    protected override void OnPeerSettings() => _settings.TrySetResult();

    protected override void OnReaderEnded(Exception reason) => _settings.TrySetException(reason);

    // GOAWAY: no new streams; streams above the last id the peer processed fail, the others go on.
    protected override void OnGoAway(int lastStreamId)
    {
        List<TunnelStream> refused;
        lock (Lock)
        {
            _peerMaxStreams = 0;
            refused = [.. Open.Values.Where(s => s.Id > lastStreamId)];
        }

        foreach (var stream in refused)
        {
            stream.Fail(new IOException("the peer gate is going away"));
        }
    }
}
