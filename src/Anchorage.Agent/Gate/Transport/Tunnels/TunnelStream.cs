using System.Buffers;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>
/// One extended CONNECT stream of a tunnel, on either side: opened by a
/// <see cref="TunnelClientConnection"/> (which waits for its <see cref="Status"/>) or accepted by a
/// <see cref="TunnelServerConnection"/> (which answers with <see cref="Respond"/> or <see cref="Refuse"/>).
/// Reads are the peer's DATA (0 at its END_STREAM); writes become DATA frames once the peer's
/// stream and connection windows allow (the backpressure); <see cref="CompleteWrites"/> sends
/// END_STREAM (a half-close); <see cref="Reset"/> sends RST_STREAM (this stream only).
/// What the peer sent and the gate has not read yet is bounded by the stream window this side
/// announced (<see cref="Http2Connection.StreamWindow"/>).
/// </summary>
internal sealed class TunnelStream : Stream
{
    private readonly Http2Connection _connection;
    // DATA received and not read yet, in buffers from the shared pool (returned as they are read).
    private readonly Queue<(byte[] Buffer, int Length)> _received = new();
    private readonly TaskCompletionSource<int> _status = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private int _offset;
    private int _buffered;
    private int _unacknowledged;
    private bool _remoteEnded;
    private bool _localEnded;
    private Exception? _error;
    private TaskCompletionSource? _readable;

    public TunnelStream(Http2Connection connection, int id, int sendWindow)
    {
        _connection = connection;
        Id = id;
        SendWindow = sendWindow;
    }

    public int Id { get; }

    /// <summary>What this stream may still send (guarded by the connection's lock).</summary>
    internal long SendWindow { get; set; }

    /// <summary>The response status (200: open), on the client side.</summary>
    public Task<int> Status => _status.Task;

    /// <summary>True once reset or failed: no more frames for it.</summary>
    internal bool IsFailed
    {
        get
        {
            lock (_lock)
            {
                return _error is not null;
            }
        }
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_received.Count > 0)
                {
                    if (buffer.IsEmpty)
                    {
                        return 0;
                    }

                    var read = 0;
                    while (read < buffer.Length && _received.Count > 0)
                    {
                        var chunk = _received.Peek();
                        var n = Math.Min(buffer.Length - read, chunk.Length - _offset);
                        chunk.Buffer.AsSpan(_offset, n).CopyTo(buffer.Span[read..]);
                        read += n;
                        _offset += n;
                        if (_offset == chunk.Length)
                        {
                            _received.Dequeue();
                            _offset = 0;
                            ArrayPool<byte>.Shared.Return(chunk.Buffer);
                        }
                    }

                    _buffered -= read;
                    _unacknowledged += read;
                    if (_unacknowledged >= Http2Connection.StreamWindow / 4 && !_remoteEnded)
                    {
                        _connection.Send(Http2Frames.WindowUpdateFrame(Id, _unacknowledged), this);
                        _unacknowledged = 0;
                    }

                    return read;
                }

                if (_error is not null)
                {
                    throw new IOException(_error.Message, _error);
                }

                if (_remoteEnded)
                {
                    return 0;
                }

                _readable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _readable.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            lock (_lock)
            {
                if (_error is not null)
                {
                    throw new IOException(_error.Message, _error);
                }

                if (_localEnded)
                {
                    throw new InvalidOperationException("the stream's sending side is closed");
                }
            }

            // Frames within the windows are queued back to back (the writer sends them in one TLS
            // write); only the last one is waited for: the writer fails every queued frame when the
            // tunnel fails, so an earlier frame's failure reaches this wait too.
            var n = await _connection.ReserveAsync(this, buffer.Length, cancellationToken).ConfigureAwait(false);
            var frame = Http2Frames.RentDataFrame(Id, buffer.Span[..n]);
            buffer = buffer[n..];
            if (buffer.IsEmpty)
            {
                await _connection.SendDataAsync(frame, Http2Frames.HeaderLength + n, this).ConfigureAwait(false);
            }
            else
            {
                _connection.SendData(frame, Http2Frames.HeaderLength + n, this);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>END_STREAM: nothing more is sent; reading goes on.</summary>
    public void CompleteWrites()
    {
        lock (_lock)
        {
            if (_localEnded || _error is not null)
            {
                return;
            }

            _localEnded = true;
        }

        _connection.Send(Http2Frames.Frame(Http2Frames.Data, Http2Frames.EndStream, Id, []), this);
        EndIfClosed();
    }

    /// <summary>The HEADERS that opened the stream carried END_STREAM: nothing is sent on it.</summary>
    internal void EndedAtOpen()
    {
        lock (_lock)
        {
            _localEnded = true;
        }
    }

    /// <summary>Server side: the response HEADERS with <paramref name="status"/> (200: the stream is open; DATA may follow).</summary>
    internal void Respond(int status) =>
        _connection.Send(Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders, Id, Hpack.EncodeResponse(status)), this);

    /// <summary>
    /// Server side: answers <paramref name="status"/> and ends the stream. A client still sending is
    /// told to stop with RST_STREAM (NO_ERROR), as RFC 9113 §8.1 allows once the response is complete.
    /// </summary>
    internal void Refuse(int status)
    {
        bool remoteEnded;
        lock (_lock)
        {
            if (_localEnded || _error is not null)
            {
                return;
            }

            _localEnded = true;
            remoteEnded = _remoteEnded;
        }

        _connection.Send(Http2Frames.Frame(Http2Frames.Headers, Http2Frames.EndHeaders | Http2Frames.EndStream, Id, Hpack.EncodeResponse(status)));
        if (!remoteEnded && Fail(new IOException("the tunnel stream was refused")))
        {
            _connection.Send(Http2Frames.RstStreamFrame(Id, Http2Frames.ErrorNone));
            return;
        }

        EndIfClosed();
    }

    /// <summary>RST_STREAM (CANCEL): this stream is closed both ways; the tunnel stays.</summary>
    public void Reset()
    {
        if (Fail(new IOException("the tunnel stream was reset locally")))
        {
            _connection.Send(Http2Frames.RstStreamFrame(Id, Http2Frames.ErrorCancel));
        }
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>The response HEADERS arrived.</summary>
    internal void OnStatus(int status, bool endStream)
    {
        _status.TrySetResult(status);
        if (endStream)
        {
            OnData([], endStream: true);
        }
    }

    /// <summary>DATA arrived; false when it overflows the window this stream announced (the caller resets it).</summary>
    internal bool OnData(ReadOnlySpan<byte> data, bool endStream)
    {
        TaskCompletionSource? readable;
        lock (_lock)
        {
            if (_error is not null || _remoteEnded)
            {
                return true;
            }

            if (_buffered + data.Length > Http2Connection.StreamWindow)
            {
                return false;
            }

            if (!data.IsEmpty)
            {
                var copy = ArrayPool<byte>.Shared.Rent(data.Length);
                data.CopyTo(copy);
                _received.Enqueue((copy, data.Length));
                _buffered += data.Length;
            }

            _remoteEnded |= endStream;
            readable = _readable;
            _readable = null;
        }

        readable?.TrySetResult();
        if (endStream)
        {
            EndIfClosed();
        }

        return true;
    }

    /// <summary>The stream failed (the peer reset it, the tunnel died); true the first time.</summary>
    internal bool Fail(Exception error)
    {
        TaskCompletionSource? readable;
        lock (_lock)
        {
            if (_error is not null)
            {
                return false;
            }

            _error = error;
            readable = _readable;
            _readable = null;
        }

        _status.TrySetException(error);
        readable?.TrySetResult();
        _connection.Remove(this);
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        // A stream dropped before both sides ended is reset, so the peer does not keep it open.
        bool open;
        lock (_lock)
        {
            open = _error is null && !(_localEnded && _remoteEnded);
        }

        if (open)
        {
            Reset();
        }

        base.Dispose(disposing);
    }

    private void EndIfClosed()
    {
        lock (_lock)
        {
            if (!(_localEnded && _remoteEnded))
            {
                return;
            }
        }

        _connection.Remove(this);
    }
}
