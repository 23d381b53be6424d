using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

// The tunnel's frame reader: one task reads frames and hands each to its stream or to the connection's state.
internal abstract partial class Http2Connection
{
    /// <summary>A complete header block (HEADERS and its CONTINUATIONs) arrived on <paramref name="streamId"/>.</summary>
    /// <exception cref="IOException">A connection error: the tunnel closes.</exception>
    /// <exception cref="FormatException">The block does not decode (COMPRESSION_ERROR): the tunnel closes.</exception>
    protected abstract void OnHeaders(int streamId, ReadOnlySpan<byte> block, bool endStream);

    /// <summary>A setting the shared part does not handle (under <see cref="Lock"/>).</summary>
    protected virtual void OnSetting(ushort id, uint value)
    {
    }

    /// <summary>The peer's SETTINGS were applied and acknowledged.</summary>
    protected virtual void OnPeerSettings()
    {
    }

    /// <summary>The peer sent GOAWAY: it processed no stream above <paramref name="lastStreamId"/> and accepts no new one.</summary>
    protected virtual void OnGoAway(int lastStreamId)
    {
    }

    /// <summary>The reader stopped; the tunnel closes for <paramref name="reason"/>.</summary>
    protected virtual void OnReaderEnded(Exception reason)
    {
    }

    /// <summary>Before the first frame (the server reads the client's preface here).</summary>
    protected virtual Task BeforeFramesAsync() => Task.CompletedTask;

    private async Task ReadLoopAsync()
    {
        var header = new byte[Http2Frames.HeaderLength];
        var headerBlock = new List<byte>();
        var blockStream = 0;
        var blockEndStream = false;
        Exception reason = new IOException("the peer gate closed the tunnel");
        var error = Http2Frames.ErrorNone;
        try
        {
            await BeforeFramesAsync().ConfigureAwait(false);
            while (true)
            {
                // An idle tunnel holds no buffer: the zero-byte read waits for the next record
                // without one (SslStream takes its own only once a record has come), and a frame's
                // payload buffer is rented for that frame only.
                await Tls.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                await Tls.ReadExactlyAsync(header).ConfigureAwait(false);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue;
                if (length > TunnelProtocol.MaxFrameSize)
                {
                    throw new Http2ProtocolException($"the peer sent a frame of {length} bytes (limit {TunnelProtocol.MaxFrameSize})", Http2Frames.ErrorFrameSize);
                }

                byte[] payload = length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);
                await Tls.ReadExactlyAsync(payload.AsMemory(0, length)).ConfigureAwait(false);
                ReadOnlySpan<byte> body = payload.AsSpan(0, length);
                if (blockStream != 0 && type != Http2Frames.Continuation)
                {
                    throw new Http2ProtocolException("the peer interrupted a header block");
                }

                switch (type)
                {
                    case Http2Frames.Data:
                        OnData(streamId, flags, body);
                        break;
                    case Http2Frames.Headers:
                        body = Unpad(flags, body);
                        if ((flags & Http2Frames.Priority) != 0)
                        {
                            body = body[5..];
                        }

                        headerBlock.Clear();
                        headerBlock.AddRange(body);
                        blockEndStream = (flags & Http2Frames.EndStream) != 0;
                        blockStream = streamId;
                        if ((flags & Http2Frames.EndHeaders) != 0)
                        {
                            OnHeaders(blockStream, CollectionsMarshal.AsSpan(headerBlock), blockEndStream);
                            blockStream = 0;
                        }

                        break;
                    case Http2Frames.Continuation:
                        if (streamId != blockStream || headerBlock.Count + body.Length > 64 * 1024)
                        {
                            throw new Http2ProtocolException("the peer sent a bad CONTINUATION");
                        }

                        headerBlock.AddRange(body);
                        if ((flags & Http2Frames.EndHeaders) != 0)
                        {
                            OnHeaders(blockStream, CollectionsMarshal.AsSpan(headerBlock), blockEndStream);
                            blockStream = 0;
                        }

                        break;
                    case Http2Frames.RstStream:
                        Find(streamId)?.Fail(new IOException("the peer gate reset the tunnel stream"));
                        break;
                    case Http2Frames.Settings:
                        if ((flags & Http2Frames.Ack) == 0)
                        {
                            OnSettings(body);
                            Send(Http2Frames.Frame(Http2Frames.Settings, Http2Frames.Ack, 0, []));
                            OnPeerSettings();
                        }

                        break;
                    case Http2Frames.Ping:
                        if ((flags & Http2Frames.Ack) == 0)
                        {
                            Send(Http2Frames.Frame(Http2Frames.Ping, Http2Frames.Ack, 0, body));
                        }

                        break;
                    case Http2Frames.GoAway:
                        OnGoAway(BinaryPrimitives.ReadInt32BigEndian(body) & int.MaxValue);
                        break;
                    case Http2Frames.WindowUpdate:
                        OnWindowUpdate(streamId, BinaryPrimitives.ReadInt32BigEndian(body) & int.MaxValue);
                        break;
                    case Http2Frames.PushPromise:
                        throw new Http2ProtocolException("the peer sent PUSH_PROMISE, which no gate sends (push is disabled)");
                    default:
                        break; // PRIORITY and unknown types are ignored (RFC 9113 §5.5)
                }

                // Every use of the payload above is synchronous (DATA is copied into the stream's buffer).
                if (length > 0)
                {
                    ArrayPool<byte>.Shared.Return(payload);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or FormatException or ArgumentOutOfRangeException or InvalidOperationException)
        {
            reason = e is EndOfStreamException ? reason : new IOException("the tunnel failed: " + e.Message, e);
            error = e switch
            {
                Http2ProtocolException broken => broken.Error,
                FormatException => Http2Frames.ErrorCompression, // HPACK (RFC 9113 §4.3)
                ArgumentOutOfRangeException => Http2Frames.ErrorFrameSize, // a frame too short for its type
                _ => Http2Frames.ErrorNone,
            };
        }

        OnReaderEnded(reason);
        Close(reason, error);
    }

    private static ReadOnlySpan<byte> Unpad(byte flags, ReadOnlySpan<byte> body)
    {
        if ((flags & Http2Frames.Padded) == 0)
        {
            return body;
        }

        var pad = body[0];
        return pad >= body.Length ? throw new Http2ProtocolException("the peer sent bad padding") : body[1..^pad];
    }

    private TunnelStream? Find(int streamId)
    {
        lock (Lock)
        {
            return Open.GetValueOrDefault(streamId);
        }
    }

    private void OnData(int streamId, byte flags, ReadOnlySpan<byte> body)
    {
        // The connection window counts the whole frame; it is given back at once.
        lock (Lock)
        {
            _connectionUnacknowledged += body.Length;
            if (_connectionUnacknowledged >= ConnectionWindow / 2)
            {
                Send(Http2Frames.WindowUpdateFrame(0, _connectionUnacknowledged));
                _connectionUnacknowledged = 0;
            }
        }

        var stream = Find(streamId);
        if (stream is not null && !stream.OnData(Unpad(flags, body), (flags & Http2Frames.EndStream) != 0))
        {
            stream.Fail(new IOException("the peer gate overran the stream window"));
            Send(Http2Frames.RstStreamFrame(streamId, Http2Frames.ErrorFlowControl));
        }
    }

    private void OnSettings(ReadOnlySpan<byte> body)
    {
        if (body.Length % 6 != 0)
        {
            throw new Http2ProtocolException($"the peer sent a SETTINGS frame of {body.Length} bytes (a multiple of 6)", Http2Frames.ErrorFrameSize);
        }

        lock (Lock)
        {
            for (var i = 0; i + 6 <= body.Length; i += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(body[i..]);
                var value = BinaryPrimitives.ReadUInt32BigEndian(body[(i + 2)..]);
                switch (id)
                {
                    case Http2Frames.SettingsInitialWindowSize:
                        if (value > int.MaxValue)
                        {
                            throw new Http2ProtocolException($"the peer announced SETTINGS_INITIAL_WINDOW_SIZE {value} (at most 2^31-1)", Http2Frames.ErrorFlowControl);
                        }

                        var delta = (int)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (var stream in Open.Values)
                        {
                            stream.SendWindow += delta;
                        }

                        break;
                    case Http2Frames.SettingsMaxFrameSize:
                        // Valid values are 16384 to 2^24-1 (RFC 9113 §6.5.2); never above what the writer's buffer holds.
                        if (value is < Http2Frames.DefaultMaxFrameSize or > 16_777_215)
                        {
                            throw new Http2ProtocolException($"the peer announced SETTINGS_MAX_FRAME_SIZE {value} (16384 to 16777215)");
                        }

                        _peerMaxFrameSize = (int)Math.Min(value, TunnelProtocol.MaxFrameSize);
                        break;
                    default:
                        OnSetting(id, value);
                        break;
                }
            }
        }

        WindowChanged();
    }

    // A window above 2^31-1 is a flow-control error (RFC 9113 §6.9.1): of the tunnel for the
    // connection window, of the stream (reset) for a stream's.
    private void OnWindowUpdate(int streamId, int increment)
    {
        TunnelStream? overflowed = null;
        lock (Lock)
        {
            if (streamId == 0)
            {
                _connectionSendWindow += increment;
                if (_connectionSendWindow > int.MaxValue)
                {
                    throw new Http2ProtocolException("the peer overflowed the connection send window", Http2Frames.ErrorFlowControl);
                }
            }
            else if (Open.TryGetValue(streamId, out var stream))
            {
                stream.SendWindow += increment;
                overflowed = stream.SendWindow > int.MaxValue ? stream : null;
            }
        }

        if (overflowed is not null && overflowed.Fail(new IOException("the peer overflowed the stream send window")))
        {
            Send(Http2Frames.RstStreamFrame(streamId, Http2Frames.ErrorFlowControl));
        }


        WindowChanged();
    }
}
