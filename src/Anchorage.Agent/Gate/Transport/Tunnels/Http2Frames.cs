using System.Buffers.Binary;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>HTTP/2 framing (RFC 9113 §4, §6): the frame header, the types, flags, settings and error codes the tunnel uses.</summary>
internal static class Http2Frames
{
    public const int HeaderLength = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value: what a peer accepts until its SETTINGS say more.</summary>
    public const int DefaultMaxFrameSize = 16384;

    public const byte Data = 0x0;
    public const byte Headers = 0x1;
    public const byte RstStream = 0x3;
    public const byte Settings = 0x4;
    public const byte PushPromise = 0x5;
    public const byte Ping = 0x6;
    public const byte GoAway = 0x7;
    public const byte WindowUpdate = 0x8;
    public const byte Continuation = 0x9;

    public const byte EndStream = 0x1;
    public const byte Ack = 0x1;
    public const byte EndHeaders = 0x4;
    public const byte Padded = 0x8;
    public const byte Priority = 0x20;

    public const ushort SettingsHeaderTableSize = 0x1;
    public const ushort SettingsEnablePush = 0x2;
    public const ushort SettingsMaxConcurrentStreams = 0x3;
    public const ushort SettingsInitialWindowSize = 0x4;
    public const ushort SettingsMaxFrameSize = 0x5;
    public const ushort SettingsEnableConnectProtocol = 0x8;

    public const uint ErrorNone = 0x0;
    public const uint ErrorProtocol = 0x1;
    public const uint ErrorFlowControl = 0x3;
    public const uint ErrorFrameSize = 0x6;
    public const uint ErrorRefusedStream = 0x7;
    public const uint ErrorCancel = 0x8;
    public const uint ErrorCompression = 0x9;
    public const uint ErrorEnhanceYourCalm = 0xb;

    /// <summary>The client connection preface (RFC 9113 §3.4).</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void WriteHeader(Span<byte> destination, int length, byte type, byte flags, int streamId)
    {
        destination[0] = (byte)(length >> 16);
        destination[1] = (byte)(length >> 8);
        destination[2] = (byte)length;
        destination[3] = type;
        destination[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(destination[5..], streamId & int.MaxValue);
    }

    /// <summary>A frame: <paramref name="payload"/> after its header.</summary>
    public static byte[] Frame(byte type, byte flags, int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[HeaderLength + payload.Length];
        WriteHeader(frame, payload.Length, type, flags, streamId);
        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    /// <summary>A DATA frame in a buffer from the shared pool (the tunnel's writer returns it once written or dropped).</summary>
    public static byte[] RentDataFrame(int streamId, ReadOnlySpan<byte> payload)
    {
        var frame = System.Buffers.ArrayPool<byte>.Shared.Rent(HeaderLength + payload.Length);
        WriteHeader(frame, payload.Length, Data, 0, streamId);
        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    public static byte[] WindowUpdateFrame(int streamId, int increment)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, increment);
        return Frame(WindowUpdate, 0, streamId, payload);
    }

    public static byte[] RstStreamFrame(int streamId, uint error)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, error);
        return Frame(RstStream, 0, streamId, payload);
    }

    public static byte[] GoAwayFrame(int lastStreamId, uint error)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(payload, lastStreamId);
        BinaryPrimitives.WriteUInt32BigEndian(payload[4..], error);
        return Frame(GoAway, 0, 0, payload);
    }
}
