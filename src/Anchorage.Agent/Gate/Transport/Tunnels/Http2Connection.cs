using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using Anchorage.Agent.Gate.Splicing;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// What both ends of a tunnel share: HTTP/2 (RFC 9113) over an mTLS connection, carrying
/// <see cref="TunnelStream"/>s. The client (<see cref="TunnelClientConnection"/>) opens streams;
/// the server (<see cref="TunnelServerConnection"/>) accepts them. One task reads frames; one task
/// writes them in order from a queue, so the reader never waits on the socket's send side, and
/// frames queued together leave in one TLS write. DATA is queued only within the peer's windows,
/// and each stream write waits until its frames are written, so the queue holds at most one
/// caller's buffer of DATA per stream; frames the peer's frames call for (SETTINGS and PING
/// acknowledgements, window updates, resets) are bounded by <see cref="MaxQueuedControlFrames"/>.
/// </summary>
internal abstract partial class Http2Connection : IAsyncDisposable
{
    /// <summary>SETTINGS_INITIAL_WINDOW_SIZE announced: what one stream may have buffered unread.</summary>
    public const int StreamWindow = TunnelProtocol.StreamWindow;

    /// <summary>
    /// The connection receive window; its credit is given back as DATA arrives, before any stream
    /// reads it (each stream buffers up to <see cref="StreamWindow"/>, which bounds the memory), so
    /// a stream nobody reads never holds connection credit and never stalls the others.
    /// </summary>
    protected const int ConnectionWindow = 16 * 1024 * 1024;

    /// <summary>
    /// Control frames queued and not yet written. A peer that sends PINGs or SETTINGS faster than
    /// it reads the answers would otherwise grow the queue without bound; past this the tunnel closes.
    /// </summary>
    private const int MaxQueuedControlFrames = 10_000;

    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private TaskCompletionSource _windowChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _connectionSendWindow = 65535;
    private int _peerInitialWindow = 65535;
    private int _peerMaxFrameSize = Http2Frames.DefaultMaxFrameSize;
    private int _connectionUnacknowledged;
    private int _queuedControl;
    private Exception? _closed;
    private Task _reader = Task.CompletedTask;
    private Task _writer = Task.CompletedTask;

    protected Http2Connection(SslStream tls, Socket socket, TimeProvider time)
    {
        Tls = tls;
        Socket = socket;
        Time = time;
        IdleSince = time.GetTimestamp();
    }

    public TimeProvider Time { get; }

    public Socket Socket { get; }

    /// <summary>When the last stream ended (a timestamp of <see cref="Time"/>), for the idle timeout.</summary>
    public long IdleSince { get; private set; }

    /// <summary>Called when the last stream ended or the tunnel closed.</summary>
    public Action<Http2Connection>? StreamsEnded { get; set; }

    public bool IsClosed
    {
        get
        {
            lock (Lock)
            {
                return _closed is not null;
            }
        }
    }

    /// <summary>Ends when the tunnel closed and its reader stopped.</summary>
    public Task Completion => _reader;

    protected SslStream Tls { get; }

    /// <summary>Guards the streams, the windows and the queue's order.</summary>
    protected Lock Lock { get; } = new();

    /// <summary>The open streams by id (under <see cref="Lock"/>).</summary>
    protected Dictionary<int, TunnelStream> Open { get; } = [];

    /// <summary>Streams being opened that are not in <see cref="Open"/> yet (under <see cref="Lock"/>).</summary>
    protected int Reserved { get; set; }

    /// <summary>Why the tunnel closed (under <see cref="Lock"/>); null while open.</summary>
    protected Exception? ClosedReason => _closed;

    /// <summary>What the peer's SETTINGS_INITIAL_WINDOW_SIZE gives a new stream to send (under <see cref="Lock"/>).</summary>
    protected int PeerInitialWindow => _peerInitialWindow;

    /// <summary>Queues a frame; a frame <paramref name="of"/> a stream is dropped if that stream is reset before the frame leaves.</summary>
    internal void Send(byte[] frame, TunnelStream? of = null)
    {
        if (Interlocked.Increment(ref _queuedControl) > MaxQueuedControlFrames)
        {
            Interlocked.Decrement(ref _queuedControl);
            Close(new IOException($"the peer does not read its frames ({MaxQueuedControlFrames} control frames queued)"), Http2Frames.ErrorEnhanceYourCalm);
            return;
        }

        if (!_outgoing.Writer.TryWrite(new(frame, of, Control: true)))
        {
            Interlocked.Decrement(ref _queuedControl);
        }
    }

    /// <summary>Queues a DATA frame of <paramref name="of"/> (the first <paramref name="length"/> bytes of a pooled buffer, <see cref="Http2Frames.RentDataFrame"/>).</summary>
    internal void SendData(byte[] frame, int length, TunnelStream of) => Enqueue(new(frame, of, Length: length, Pooled: true));

    /// <summary>As <see cref="SendData"/>, and waits until the frame is written.</summary>
    internal Task SendDataAsync(byte[] frame, int length, TunnelStream of)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Enqueue(new(frame, of, written, length, Pooled: true)))
        {
            written.TrySetException(new IOException("the tunnel is closed"));
        }

        return written.Task;
    }

    /// <summary>Waits until <paramref name="stream"/> may send at least one byte; takes up to <paramref name="wanted"/> from both windows.</summary>
    internal async Task<int> ReserveAsync(TunnelStream stream, int wanted, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (Lock)
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

    /// <summary>A stream ended both ways or failed: it leaves the tunnel.</summary>
    internal void Remove(TunnelStream stream)
    {
        bool ended;
        lock (Lock)
        {
            if (!Open.Remove(stream.Id))
            {
                return;
            }

            ended = Open.Count + Reserved == 0;
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

    /// <summary>Closes the tunnel: GOAWAY (with <paramref name="error"/>), then the connection; open streams fail.</summary>
    public void Close(Exception reason, uint error = Http2Frames.ErrorNone)
    {
        List<TunnelStream> streams;
        lock (Lock)
        {
            if (_closed is not null)
            {
                return;
            }

            _closed = reason;
            streams = [.. Open.Values];
            _outgoing.Writer.TryWrite(new(Http2Frames.GoAwayFrame(LastPeerStreamId, error)));
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

        SocketEnd.Abort(Socket);
        await _reader.ConfigureAwait(false);
        await Tls.DisposeAsync().ConfigureAwait(false);
        Socket.Dispose();
    }

    /// <summary>The highest stream id the peer opened (GOAWAY's last stream id; 0 for the client, which accepts none).</summary>
    protected virtual int LastPeerStreamId => 0;

    protected static byte[] SettingsFrame(params ReadOnlySpan<(ushort Id, int Value)> settings)
    {
        var payload = new byte[6 * settings.Length];
        for (var i = 0; i < settings.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(6 * i), settings[i].Id);
            BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan((6 * i) + 2), settings[i].Value);
        }

        return Http2Frames.Frame(Http2Frames.Settings, 0, 0, payload);
    }

    /// <summary>Queues <paramref name="first"/> ahead of the loops (the preface and SETTINGS), then starts them.</summary>
    protected void Start(byte[] first)
    {
        _outgoing.Writer.TryWrite(new(first));
        _outgoing.Writer.TryWrite(new(Http2Frames.WindowUpdateFrame(0, ConnectionWindow - 65535)));
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
    }

    /// <summary>Queues a frame under <see cref="Lock"/> with the frames queued before it in order (HEADERS in stream id order).</summary>
    protected void SendInOrder(byte[] frame) => _outgoing.Writer.TryWrite(new(frame));

    protected void WindowChanged()
    {
        TaskCompletionSource changed;
        lock (Lock)
        {
            changed = _windowChanged;
            _windowChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
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
}
