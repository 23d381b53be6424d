using System.Buffers;
using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

// The tunnel's frame writer: one task writes the queued frames in order, several to a TLS write.
internal abstract partial class Http2Connection
{
    // Frames queued together leave in one TLS write (one record and one syscall for up to this many
    // bytes) instead of one each: four streams' DATA frames then cost one write, not four.
    private const int WriteBatchBytes = 64 * 1024;

    private async Task WriteLoopAsync()
    {
        var batch = new List<TaskCompletionSource?>();
        var bufferSize = WriteBatchBytes + Http2Frames.HeaderLength + TunnelProtocol.MaxFrameSize + Http2Frames.Preface.Length;
        try
        {
            while (await _outgoing.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                // Rented per batch: an idle tunnel holds no write buffer.
                var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                try
                {
                    batch.Clear();
                    var length = 0;
                    while (_outgoing.Reader.TryPeek(out var next) &&
                        (length == 0 || length + next.Size <= WriteBatchBytes) &&
                        _outgoing.Reader.TryRead(out var item))
                    {
                        if (item.Of is { IsFailed: true })
                        {
                            Drop(item);
                            continue;
                        }

                        item.Frame.AsSpan(0, item.Size).CopyTo(buffer.AsSpan(length));
                        length += item.Size;
                        Release(item);
                        batch.Add(item.Written);
                    }

                    if (length == 0)
                    {
                        continue; // every frame taken was dropped
                    }

                    try
                    {
                        await Tls.WriteAsync(buffer.AsMemory(0, length)).ConfigureAwait(false);
                        foreach (var written in batch)
                        {
                            written?.TrySetResult();
                        }
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or InvalidOperationException)
                    {
                        foreach (var written in batch)
                        {
                            written?.TrySetException(new IOException("the tunnel failed: " + e.Message, e));
                        }

                        Close(new IOException("the tunnel failed: " + e.Message, e));
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        finally
        {
            // Frames queued after the close are failed, not lost silently.
            while (_outgoing.Reader.TryRead(out var rest))
            {
                rest.Written?.TrySetException(new IOException("the tunnel is closed"));
                Release(rest);
            }
        }
    }

    // A frame of a stream reset (by either side) after it was queued. Once a stream's RST_STREAM is
    // sent nothing more of it may follow: a peer may answer a frame after it with a connection error
    // (STREAM_CLOSED, RFC 9113 §5.1), which would end every other stream of the tunnel. The peer never sees
    // the dropped DATA, so its bytes go back into the connection send window.
    private void Drop(Outgoing item)
    {
        item.Written?.TrySetException(new IOException("the tunnel stream was reset"));
        var type = item.Frame[3];
        var payload = item.Size - Http2Frames.HeaderLength;
        Release(item);
        if (type != Http2Frames.Data || payload == 0)
        {
            return;
        }

        lock (Lock)
        {
            _connectionSendWindow += payload;
        }

        WindowChanged();
    }

    // A frame leaves the queue (written or dropped): its buffer and its place in the control-frame bound go back.
    private void Release(Outgoing item)
    {
        if (item.Control)
        {
            Interlocked.Decrement(ref _queuedControl);
        }

        item.Release();
    }

    /// <summary>
    /// A queued frame: <see cref="Frame"/>'s first <see cref="Length"/> bytes (0: all of it); <see cref="Of"/>: the stream it
    /// belongs to, if it must not follow that stream's reset; <see cref="Pooled"/>: the buffer goes back to the shared pool;
    /// <see cref="Control"/>: counted in the control-frame bound.
    /// </summary>
    private readonly record struct Outgoing(byte[] Frame, TunnelStream? Of = null, TaskCompletionSource? Written = null, int Length = 0, bool Pooled = false, bool Control = false)
    {
        public int Size => Length == 0 ? Frame.Length : Length;

        public void Release()
        {
            if (Pooled)
            {
                ArrayPool<byte>.Shared.Return(Frame);
            }
        }
    }
}
