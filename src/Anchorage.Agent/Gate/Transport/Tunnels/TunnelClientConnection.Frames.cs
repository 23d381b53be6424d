using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

// The tunnel's frame reader: one task reads frames and hands each to its stream or to the connection's state.
internal sealed partial class TunnelClientConnection
{
    private async Task ReadLoopAsync()
    {
        var header = new byte[Http2Frames.HeaderLength];
        var headerBlock = new List<byte>();
        var blockStream = 0;
        var blockEndStream = false;
        Exception reason = new IOException("the peer gate closed the tunnel");
        try
        {
            while (true)
            {
                // An idle tunnel holds no buffer: the zero-byte read waits for the next record
                // without one (SslStream takes its own only once a record has come), and a frame's
                // payload buffer is rented for that frame only.
                await _tls.ReadAsync(Memory<byte>.Empty).ConfigureAwait(false);
                await _tls.ReadExactlyAsync(header).ConfigureAwait(false);
                var length = (header[0] << 16) | (header[1] << 8) | header[2];
                var type = header[3];
                var flags = header[4];
                var streamId = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue;
                if (length > TunnelProtocol.MaxFrameSize)
                {
                    throw new IOException($"the peer sent a frame of {length} bytes (limit {TunnelProtocol.MaxFrameSize})");
                }

                byte[] payload = length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);
                await _tls.ReadExactlyAsync(payload.AsMemory(0, length)).ConfigureAwait(false);
                ReadOnlySpan<byte> body = payload.AsSpan(0, length);
                if (blockStream != 0 && type != Http2Frames.Continuation)
                {
                    throw new IOException("the peer interrupted a header block");
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
                            OnHeaders(blockStream, headerBlock, blockEndStream);
                            blockStream = 0;
                        }

                        break;
                    case Http2Frames.Continuation:
                        if (streamId != blockStream || headerBlock.Count + body.Length > 64 * 1024)
                        {
                            throw new IOException("the peer sent a bad CONTINUATION");
                        }

                        headerBlock.AddRange(body);
                        if ((flags & Http2Frames.EndHeaders) != 0)
                        {
                            OnHeaders(blockStream, headerBlock, blockEndStream);
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
                            _settings.TrySetResult();
                        }

                        break;
                    case Http2Frames.Ping:
                        if ((flags & Http2Frames.Ack) == 0)
                        {
                            Send(Http2Frames.Frame(Http2Frames.Ping, Http2Frames.Ack, 0, body));
                        }

                        break;
                    case Http2Frames.GoAway:
                        OnGoAway(body);
                        break;
                    case Http2Frames.WindowUpdate:
                        OnWindowUpdate(streamId, BinaryPrimitives.ReadInt32BigEndian(body) & int.MaxValue);
                        break;
                    case Http2Frames.PushPromise:
                        throw new IOException("the peer sent PUSH_PROMISE although push is disabled");
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
        }

        _settings.TrySetException(reason);
        Close(reason);
    }

    private static ReadOnlySpan<byte> Unpad(byte flags, ReadOnlySpan<byte> body)
    {
        if ((flags & Http2Frames.Padded) == 0)
        {
            return body;
        }

        var pad = body[0];
        return pad >= body.Length ? throw new IOException("the peer sent bad padding") : body[1..^pad];
    }

    private TunnelClientStream? Find(int streamId)
    {
        lock (_lock)
        {
            return _streams.GetValueOrDefault(streamId);
        }
    }

    private void OnData(int streamId, byte flags, ReadOnlySpan<byte> body)
    {
        // The connection window counts the whole frame; it is given back at once.
        lock (_lock)
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

    private void OnHeaders(int streamId, List<byte> block, bool endStream)
    {
        var stream = Find(streamId);
        if (stream is null || stream.Status.IsCompleted)
        {
            return; // trailers, or a stream already gone: nothing the tunnel needs
        }

        stream.OnStatus(Hpack.DecodeStatus(block.ToArray()), endStream);
    }

    private void OnSettings(ReadOnlySpan<byte> body)
    {
        lock (_lock)
        {
            for (var i = 0; i + 6 <= body.Length; i += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(body[i..]);
                var value = BinaryPrimitives.ReadUInt32BigEndian(body[(i + 2)..]);
                switch (id)
                {
                    case Http2Frames.SettingsMaxConcurrentStreams:
                        _peerMaxStreams = (int)Math.Min(value, int.MaxValue);
                        break;
                    case Http2Frames.SettingsInitialWindowSize:
                        var delta = (int)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (var stream in _streams.Values)
                        {
                            stream.SendWindow += delta;
                        }

                        break;
                    case Http2Frames.SettingsMaxFrameSize:
                        // Valid values are 16384 to 2^24-1 (RFC 9113 §6.5.2); never above what the writer's buffer holds.
                        if (value is < Http2Frames.DefaultMaxFrameSize or > 16_777_215)
                        {
                            throw new IOException($"the peer announced SETTINGS_MAX_FRAME_SIZE {value} (16384 to 16777215)");
                        }

                        _peerMaxFrameSize = (int)Math.Min(value, TunnelProtocol.MaxFrameSize);
                        break;
                    case Http2Frames.SettingsEnableConnectProtocol:
                        _extendedConnect = value == 1;
                        break;
                    default:
                        break;
                }
            }
        }

        WindowChanged();
    }

    private void OnWindowUpdate(int streamId, int increment)
    {
        lock (_lock)
        {
            if (streamId == 0)
            {
                _connectionSendWindow += increment;
            }
            else if (_streams.TryGetValue(streamId, out var stream))
            {
                stream.SendWindow += increment;
            }
        }

        WindowChanged();
    }

    // GOAWAY: no new streams; streams above the last id the peer processed fail, the others go on.
    private void OnGoAway(ReadOnlySpan<byte> body)
    {
        var last = BinaryPrimitives.ReadInt32BigEndian(body) & int.MaxValue;
        List<TunnelClientStream> refused;
        lock (_lock)
        {
            _peerMaxStreams = 0;
            refused = [.. _streams.Values.Where(s => s.Id > last)];
        }

        foreach (var stream in refused)
        {
            stream.Fail(new IOException("the peer gate is going away"));
        }
    }
}
