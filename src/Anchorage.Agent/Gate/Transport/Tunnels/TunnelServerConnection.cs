namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One tunnel, server side: HTTP/2 (RFC 9113) on an mTLS connection the inbound gate accepted
/// and whose client selected <see cref="TunnelProtocol.Alpn"/>. It reads the client preface,
/// announces extended CONNECT (RFC 8441 §3) and at most <see cref="TunnelProtocol.MaxStreamsPerTunnel"/>
/// streams, decodes each request's header block (HPACK with the default 4096-byte dynamic table,
/// so any HTTP/2 client can speak to it), checks it is well-formed, and hands each stream to the
/// callback (called on the reader: it only starts the stream's work and returns it). A stream
/// counts against the limit until both its HTTP/2 stream and that work ended, so a client that
/// opens and resets streams at once cannot start more than the limit's worth of work. A malformed request is answered 400 on its
/// own stream; a stream beyond the limit is refused (REFUSED_STREAM); a framing or compression
/// error closes the tunnel. The framing, windows and streams are <see cref="Http2Connection"/>'s,
/// shared with the client side.
/// </summary>
internal sealed class TunnelServerConnection : Http2Connection
{
    private readonly HpackDecoder _decoder = new();
    private readonly Func<TunnelStream, TunnelRequest, Task> _onStream;
    private int _lastStreamId;
    private int _working;

    public TunnelServerConnection(TunnelConnection tunnel, TimeProvider time, Func<TunnelStream, TunnelRequest, Task> onStream)
        : base(tunnel.Tls, tunnel.Socket, time)
    {
        _onStream = onStream;
    }

    /// <summary>Streams whose work (the callback's task) has not ended.</summary>
    internal int Working => Volatile.Read(ref _working);

    /// <summary>Sends SETTINGS and starts reading (the client's preface first).</summary>
    public void Start() =>
        Start(SettingsFrame(
            (Http2Frames.SettingsMaxConcurrentStreams, TunnelProtocol.MaxStreamsPerTunnel),
            (Http2Frames.SettingsInitialWindowSize, StreamWindow),
            (Http2Frames.SettingsMaxFrameSize, TunnelProtocol.MaxFrameSize),
            (Http2Frames.SettingsEnableConnectProtocol, 1)));

    protected override int LastPeerStreamId => _lastStreamId;

    protected override async Task BeforeFramesAsync()
    {
        var preface = new byte[Http2Frames.Preface.Length];
        await Tls.ReadExactlyAsync(preface).ConfigureAwait(false);
        if (!preface.AsSpan().SequenceEqual(Http2Frames.Preface))
        {
            throw new Http2ProtocolException("the peer did not start with the HTTP/2 client preface");
        }
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

        if (stream is not null)
        {
            // Trailers: they must end the stream (RFC 9113 §8.1); the tunnel uses none of their fields.
            if (!endStream)
            {
                throw new Http2ProtocolException($"the peer sent a second header block on stream {streamId} without END_STREAM");
            }

            stream.OnData([], endStream: true);
            return;
        }

        // A new stream: client-initiated ids are odd and increase (RFC 9113 §5.1.1).
        if (streamId % 2 == 0 || streamId <= _lastStreamId)
        {
            throw new Http2ProtocolException($"the peer opened stream {streamId} after {_lastStreamId} (client streams are odd and increase)");
        }

        _lastStreamId = streamId;
        lock (Lock)
        {
            if (ClosedReason is not null)
            {
                return;
            }

            if (Open.Count >= TunnelProtocol.MaxStreamsPerTunnel || Volatile.Read(ref _working) >= TunnelProtocol.MaxStreamsPerTunnel)
            {
                stream = null;
            }
            else
            {
                stream = new TunnelStream(this, streamId, PeerInitialWindow);
                Open[streamId] = stream;
            }
        }

        if (stream is null)
        {
            Send(Http2Frames.RstStreamFrame(streamId, Http2Frames.ErrorRefusedStream));
            return;
        }

        if (endStream)
        {
            stream.OnData([], endStream: true);
        }

        var request = TunnelRequest.Parse(fields);
        if (request.Malformed is not null)
        {
            stream.Refuse(400);
            return;
        }

        Interlocked.Increment(ref _working);
        _ = _onStream(stream, request).ContinueWith(
            static (_, state) => Interlocked.Decrement(ref ((TunnelServerConnection)state!)._working),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
