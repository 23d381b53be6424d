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
/// half-close could not cross the tunnel (docs/gate-transport.md).
/// One task reads frames; one task writes them in order from a queue, so the reader never waits
/// on the socket's send side, and frames queued together leave in one TLS write. DATA is queued
/// only within the peer's windows, and each stream write waits until its frames are written, so
/// the queue holds at most one caller's buffer of DATA per stream.
/// </summary>
internal sealed partial class TunnelClientConnection : IAsyncDisposable
{
    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE announced: what one stream may have buffered unread.</summary>
    public const int StreamWindow = TunnelProtocol.StreamWindow;

    /// <summary>
    /// The connection receive window; its credit is given back as DATA arrives, before any stream
    /// reads it (each stream buffers up to <see cref="StreamWindow"/>, which bounds the memory), so
    /// a stream nobody reads never holds connection credit.
    /// </summary>
    private const int ConnectionWindow = 16 * 1024 * 1024;

    private readonly SslStream _tls;
    private readonly Socket _socket;
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<int, TunnelClientStream> _streams = [];
    private readonly TaskCompletionSource _settings = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private TaskCompletionSource _windowChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _connectionSendWindow = 65535;
    private int _peerInitialWindow = 65535;
    private int _peerMaxFrameSize = Http2Frames.DefaultMaxFrameSize;
    private int _peerMaxStreams = TunnelProtocol.MaxStreamsPerTunnel;
    private int _nextStreamId = 1;
    private int _reserved;
    private int _connectionUnacknowledged;
    private bool _extendedConnect;
    private Exception? _closed;
    private Task _reader = Task.CompletedTask;
    private Task _writer = Task.CompletedTask;

    public TunnelClientConnection(SslStream tls, Socket socket, PeerSnapshot peer, TimeProvider time)
    {
        _tls = tls;
        _socket = socket;
        Peer = peer;
        Time = time;
        IdleSince = time.GetTimestamp();
    }

    public PeerSnapshot Peer { get; }

    public TimeProvider Time { get; }

    /// <summary>When the last stream ended (a timestamp of <see cref="Time"/>), for the idle timeout.</summary>
    public long IdleSince { get; private set; }

    /// <summary>Called when the last stream ended or the tunnel closed (the pool closes idle and drained tunnels).</summary>
    public Action<TunnelClientConnection>? StreamsEnded { get; set; }

    /// <summary>Streams open or being opened.</summary>
    public int Streams
    {
        get
        {
            lock (_lock)
            {
                return _streams.Count + _reserved;
            }
        }
    }

    public bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closed is not null;
            }
        }
    }

    /// <summary>Sends the preface and SETTINGS, then waits for the peer's SETTINGS, which must allow extended CONNECT.</summary>
    /// <exception cref="IOException">The peer closed, or does not allow extended CONNECT.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = new byte[6 * 5];
        WriteSetting(settings.AsSpan(0), Http2Frames.SettingsHeaderTableSize, 0);
        WriteSetting(settings.AsSpan(6), Http2Frames.SettingsEnablePush, 0);
        WriteSetting(settings.AsSpan(12), Http2Frames.SettingsInitialWindowSize, StreamWindow);
        WriteSetting(settings.AsSpan(18), Http2Frames.SettingsMaxConcurrentStreams, 0);
        WriteSetting(settings.AsSpan(24), Http2Frames.SettingsMaxFrameSize, TunnelProtocol.MaxFrameSize);
        Send([.. Http2Frames.Preface, .. Http2Frames.Frame(Http2Frames.Settings, 0, 0, settings)]);
        Send(Http2Frames.WindowUpdateFrame(0, ConnectionWindow - 65535));
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
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
        lock (_lock)
        {
            if (_closed is not null || _streams.Count + _reserved >= _peerMaxStreams)
            {
                return false;
            }

            _reserved++;
            return true;
        }
    }

    /// <summary>Gives back a slot <see cref="TryReserve"/> took.</summary>
    public void Unreserve()
    {
        bool ended;
        lock (_lock)
        {
            _reserved--;
            ended = _streams.Count + _reserved == 0;
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
        TunnelClientStream hello;
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
    public Task<TunnelClientStream> OpenAsync(string authority, string connectionId, string? origin, CancellationToken cancellationToken) =>
        OpenAsync(
            TunnelProtocol.ConnectProtocol,
            authority,
            origin is null ? [(TunnelProtocol.ConnectionIdHeader, connectionId)] : [(TunnelProtocol.ConnectionIdHeader, connectionId), (TunnelProtocol.OriginHeader, origin)],
            sends: true,
            cancellationToken);

    // sends false: the request ends right after its HEADERS (the hello sends no body).
    private async Task<TunnelClientStream> OpenAsync(string protocol, string authority, (string Name, string Value)[] fields, bool sends, CancellationToken cancellationToken)
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
            lock (_lock)
            {
                _reserved--;
            }

            throw new IOException("the CONNECT headers do not fit one frame");
        }

        TunnelClientStream stream;
        lock (_lock)
        {
            _reserved--;
            if (_closed is not null)
            {
                throw new IOException(_closed.Message, _closed);
            }

            // Ids are taken and HEADERS queued under one lock: the peer sees ids in increasing order.
            stream = new TunnelClientStream(this, _nextStreamId, _peerInitialWindow);
            _nextStreamId += 2;
            _streams[stream.Id] = stream;
            _outgoing.Writer.TryWrite(new(Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, stream.Id, block)));
            if (!sends)
            {
                // The request ends at once (an empty DATA with END_STREAM right behind the HEADERS).
                stream.EndedAtOpen();
                _outgoing.Writer.TryWrite(new(Http2Frames.Frame(Http2Frames.Data, Http2Frames.EndStream, stream.Id, [])));
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

    /// <summary>
    /// Queues a frame (control frames and END_STREAM: not waited for). A frame <paramref name="of"/>
    /// a stream is dropped if that stream is reset before the frame leaves (see <see cref="WriteLoopAsync"/>).
    /// </summary>
    internal void Send(byte[] frame, TunnelClientStream? of = null) => Enqueue(new(frame, of));

    /// <summary>Queues a DATA frame of <paramref name="of"/> (the first <paramref name="length"/> bytes of a pooled buffer, <see cref="Http2Frames.RentDataFrame"/>).</summary>
    internal void SendData(byte[] frame, int length, TunnelClientStream of) => Enqueue(new(frame, of, Length: length, Pooled: true));

    /// <summary>As <see cref="SendData"/>, and waits until the frame is written.</summary>
    internal Task SendDataAsync(byte[] frame, int length, TunnelClientStream of)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Enqueue(new(frame, of, written, length, Pooled: true)))
        {
            written.TrySetException(new IOException("the tunnel is closed"));
        }

        return written.Task;
    }

    // A frame the closed queue refuses gives its pooled buffer back at once.
    private bool Enqueue(Outgoing item)
    {
        if (_outgoing.Writer.TryWrite(item))
        {
            return true;
        }

        item.Release();
        return false;
    }

    /// <summary>Waits until <paramref name="stream"/> may send at least one byte; takes up to <paramref name="wanted"/> from both windows.</summary>
    internal async Task<int> ReserveAsync(TunnelClientStream stream, int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_closed is not null)
                {
                    throw new IOException(_closed.Message, _closed);
                }

                if (stream.IsFailed)
                {
                    throw new IOException("the tunnel stream was reset");
                }

                var n = (int)Math.Min(Math.Min(wanted, _peerMaxFrameSize), Math.Min(stream.SendWindow, _connectionSendWindow));
                if (n > 0)
                {
                    stream.SendWindow -= n;
                    _connectionSendWindow -= n;
                    return n;
                }

                changed = _windowChanged.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal void Remove(TunnelClientStream stream)
    {
        bool ended;
        lock (_lock)
        {
            if (!_streams.Remove(stream.Id))
            {
                return;
            }

            ended = _streams.Count + _reserved == 0;
            if (ended)
            {
                IdleSince = Time.GetTimestamp();
            }
        }

        WindowChanged();
        if (ended)
        {
            StreamsEnded?.Invoke(this);
        }
    }

    /// <summary>Closes the tunnel: GOAWAY, then the connection; open streams fail.</summary>
    public void Close(Exception reason)
    {
        List<TunnelClientStream> streams;
        lock (_lock)
        {
            if (_closed is not null)
            {
                return;
            }

            _closed = reason;
            streams = [.. _streams.Values];
            _outgoing.Writer.TryWrite(new(Http2Frames.GoAwayFrame(0, Http2Frames.ErrorNone)));
            _outgoing.Writer.TryComplete();
        }

        foreach (var stream in streams)
        {
            stream.Fail(reason);
        }

        WindowChanged();
        StreamsEnded?.Invoke(this);
    }

    public async ValueTask DisposeAsync()
    {
        Close(new IOException("the tunnel was closed"));
        try
        {
            // The writer sends GOAWAY and ends; then the socket closes, which ends the reader.
            await _writer.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or IOException or ObjectDisposedException)
        {
            // A peer that does not read: closed below anyway.
        }

        SocketEnd.Abort(_socket);
        await _reader.ConfigureAwait(false);
        await _tls.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static void WriteSetting(Span<byte> destination, ushort id, int value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteInt32BigEndian(destination[2..], value);
    }

    private void WindowChanged()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            changed = _windowChanged;
            _windowChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
