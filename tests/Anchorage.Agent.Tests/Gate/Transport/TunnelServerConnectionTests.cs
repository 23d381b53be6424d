using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Gate.Transport;

/// <summary>
/// The inbound gate's own HTTP/2 server (<see cref="TunnelServerConnection"/>) against a client
/// that writes raw frames over real TLS on loopback: what a peer that breaks HTTP/2 gets, each
/// next to a well-formed request on the same fixture that is served. (Node's http2 as an
/// independent client of the whole gate: GateTunnelTests.)
/// </summary>
public sealed class TunnelServerConnectionTests
{
    [Fact]
    [Trait("Spec", "RFC 8441 4")]
    public async Task ExtendedConnect_WellFormed_HandedOverWithItsFields_AndAnswered()
    {
        await using var fixture = await Fixture.StartAsync();

        await fixture.Client.SendHeadersAsync(1, Connect("10.0.0.1:443", ("anchorage-connection-id", "c7")));
        var (stream, request) = await fixture.NextStreamAsync();
        stream.Respond(200);

        Assert.Equal(1, stream.Id);
        Assert.Equal("10.0.0.1:443", request.Authority);
        Assert.Equal("c7", request.ConnectionId);
        Assert.Equal(TunnelProtocol.ConnectProtocol, request.Protocol);
        var status = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.Headers);
        Assert.Equal(200, Hpack.StatusOf(new HpackDecoder().Decode(status.Payload)));
        Assert.Equal(0, status.Flags & Http2Frames.EndStream);
    }

    public static TheoryData<string, (string, string)[]> Malformed => new()
    {
        { "an uppercase name", [.. Connect("a:1"), ("Anchorage-Connection-Id", "c1")] },
        { "a pseudo-header after a regular field", [("anchorage-connection-id", "c1"), .. Connect("a:1")] },
        { "a repeated :method", [(":method", "CONNECT"), .. Connect("a:1")] },
        { "an unknown pseudo-header", [.. Connect("a:1")[..4], (":status", "200")] },
        { "a connection-specific field", [.. Connect("a:1"), ("connection", "keep-alive")] },
        { ":protocol without :authority", [(":method", "CONNECT"), (":protocol", "connect-tcp"), (":scheme", "https"), (":path", "/")] },
    };

    // RFC 9113 §8.1.1: a malformed request is that stream's error; the tunnel goes on (the control).
    [Theory]
    [MemberData(nameof(Malformed))]
    [Trait("Spec", "RFC 9113 8.1.1")]
    public async Task Request_Malformed_Answered400OnItsStreamAlone_NextStreamServed(string what, (string, string)[] fields)
    {
        await using var fixture = await Fixture.StartAsync();

        await fixture.Client.SendHeadersAsync(1, fields, endStream: true);
        var refused = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.Headers);
        await fixture.Client.SendHeadersAsync(3, Connect("a:1"));
        var (served, _) = await fixture.NextStreamAsync();

        Assert.Equal(1, refused.StreamId);
        Assert.True(400 == Hpack.StatusOf(new HpackDecoder().Decode(refused.Payload)), what);
        Assert.Equal(Http2Frames.EndStream, refused.Flags & Http2Frames.EndStream);
        Assert.Equal(3, served.Id);
        Assert.False(fixture.Server.IsClosed);
    }

    // A refused stream whose client is still sending is also reset (NO_ERROR), so it stops.
    [Fact]
    [Trait("Spec", "RFC 9113 8.1")]
    public async Task Refuse_ClientStillSending_StatusThenResetNoError()
    {
        await using var fixture = await Fixture.StartAsync();

        await fixture.Client.SendHeadersAsync(1, [.. Connect("a:1"), ("Upper", "x")]);
        var status = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.Headers);
        var reset = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.RstStream);

        Assert.Equal(400, Hpack.StatusOf(new HpackDecoder().Decode(status.Payload)));
        Assert.Equal(1, reset.StreamId);
        Assert.Equal(Http2Frames.ErrorNone, BinaryPrimitives.ReadUInt32BigEndian(reset.Payload));
    }

    [Fact]
    [Trait("Spec", "RFC 9113 5.1.2")]
    public async Task Streams_BeyondTheLimit_RefusedStream_TheOthersHandedOver()
    {
        await using var fixture = await Fixture.StartAsync();

        for (var i = 0; i <= TunnelProtocol.MaxStreamsPerTunnel; i++)
        {
            await fixture.Client.SendHeadersAsync((2 * i) + 1, Connect("a:1"));
        }

        var refused = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.RstStream);
        Assert.Equal((2 * TunnelProtocol.MaxStreamsPerTunnel) + 1, refused.StreamId);
        Assert.Equal(Http2Frames.ErrorRefusedStream, BinaryPrimitives.ReadUInt32BigEndian(refused.Payload));
        await Eventually.TrueAsync(() => fixture.Streams.Count == TunnelProtocol.MaxStreamsPerTunnel, "the first 100 streams handed over");
        Assert.False(fixture.Server.IsClosed);
    }

    // The rapid reset (CVE-2023-44487): streams opened and reset at once free their HTTP/2 slot, but
    // each started work on the inbound gate (attribution, policy, a dial). Until that work ends the
    // stream still counts; once it ended, the next stream is handed over (the control).
    [Fact]
    public async Task Streams_OpenedAndResetAtOnce_CountUntilTheirWorkEnds()
    {
        await using var fixture = await Fixture.StartAsync();
        var cancel = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(cancel, Http2Frames.ErrorCancel);

        for (var i = 0; i < TunnelProtocol.MaxStreamsPerTunnel; i++)
        {
            await fixture.Client.SendHeadersAsync((2 * i) + 1, Connect("a:1"));
            await fixture.Client.SendFrameAsync(Http2Frames.RstStream, 0, (2 * i) + 1, cancel);
        }

        await Eventually.TrueAsync(() => fixture.Streams.Count == TunnelProtocol.MaxStreamsPerTunnel, "every stream handed over");
        var next = (2 * TunnelProtocol.MaxStreamsPerTunnel) + 1;
        await fixture.Client.SendHeadersAsync(next, Connect("a:1"));
        var refused = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.RstStream);
        Assert.Equal(next, refused.StreamId);
        Assert.Equal(Http2Frames.ErrorRefusedStream, BinaryPrimitives.ReadUInt32BigEndian(refused.Payload));
        Assert.Equal(TunnelProtocol.MaxStreamsPerTunnel, fixture.Streams.Count);

        fixture.EndWork();
        await Eventually.TrueAsync(() => fixture.Server.Working == 0, "the streams' work ended");
        await fixture.Client.SendHeadersAsync(next + 2, Connect("a:1"));
        await Eventually.TrueAsync(() => fixture.Streams.Count == TunnelProtocol.MaxStreamsPerTunnel + 1, "the next stream handed over");
    }

    public static TheoryData<string, uint> ConnectionErrors => new()
    {
        { "hpack", Http2Frames.ErrorCompression },
        { "even-stream-id", Http2Frames.ErrorProtocol },
        { "decreasing-stream-id", Http2Frames.ErrorProtocol },
        { "oversized-frame", Http2Frames.ErrorFrameSize },
        { "settings-length", Http2Frames.ErrorFrameSize },
        { "push-promise", Http2Frames.ErrorProtocol },
    };

    // A connection error closes the tunnel with GOAWAY and its code (RFC 9113 §5.4.1); the stream
    // served first on the same tunnel is the control, and fails with it.
    [Theory]
    [MemberData(nameof(ConnectionErrors))]
    [Trait("Spec", "RFC 9113 5.4.1")]
    public async Task ConnectionError_TunnelClosesWithGoAwayAndItsCode(string breach, uint code)
    {
        await using var fixture = await Fixture.StartAsync();
        await fixture.Client.SendHeadersAsync(3, Connect("a:1"));
        var (served, _) = await fixture.NextStreamAsync();

        switch (breach)
        {
            case "hpack":
                await fixture.Client.SendFrameAsync(Http2Frames.Headers, Http2Frames.EndHeaders, 5, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
                break;
            case "even-stream-id":
                await fixture.Client.SendHeadersAsync(6, Connect("a:1"));
                break;
            case "decreasing-stream-id":
                await fixture.Client.SendHeadersAsync(1, Connect("a:1"));
                break;
            case "oversized-frame":
                await fixture.Client.SendFrameAsync(Http2Frames.Data, 0, 3, new byte[TunnelProtocol.MaxFrameSize + 1]);
                break;
            case "settings-length":
                await fixture.Client.SendFrameAsync(Http2Frames.Settings, 0, 0, new byte[5]);
                break;
            default:
                await fixture.Client.SendFrameAsync(Http2Frames.PushPromise, Http2Frames.EndHeaders, 3, new byte[8]);
                break;
        }

        var goAway = await fixture.Client.ReadUntilAsync(f => f.Type == Http2Frames.GoAway);
        Assert.Equal(code, BinaryPrimitives.ReadUInt32BigEndian(goAway.Payload.AsSpan(4)));
        await Eventually.TrueAsync(() => fixture.Server.IsClosed, "the tunnel closed");
        await Assert.ThrowsAsync<IOException>(async () => await served.ReadExactlyAsync(new byte[1]));
    }

    [Fact]
    [Trait("Spec", "RFC 9113 3.4")]
    public async Task Preface_Wrong_TunnelCloses()
    {
        await using var fixture = await Fixture.StartAsync(preface: "GET / HTTP/1.1\r\nHost: a\r\n\r\n...."u8.ToArray());

        await Eventually.TrueAsync(() => fixture.Server.IsClosed, "the tunnel closed");
        Assert.Empty(fixture.Streams);
    }

    // PINGs from a peer that never reads the answers: the queue of acknowledgements is bounded,
    // the tunnel closes. The control: the same PINGs from a peer that reads each batch's answers
    // before the next leave it open.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PingFlood_PeerThatDoesNotRead_TunnelCloses_OneThatReads_StaysOpen(bool reads)
    {
        await using var fixture = await Fixture.StartAsync(smallBuffers: true);
        const int Pings = 30_000;
        const int Batch = 100;
        var batch = Enumerable.Range(0, Batch).SelectMany(_ => Http2Frames.Frame(Http2Frames.Ping, 0, 0, new byte[8])).ToArray();

        for (var sent = 0; sent < Pings && !fixture.Server.IsClosed; sent += Batch)
        {
            await fixture.Client.SendRawAsync(batch);
            for (var acks = 0; reads && acks < Batch;)
            {
                var frame = await fixture.Client.ReadFrameAsync();
                acks += frame.Type == Http2Frames.Ping ? 1 : 0;
            }
        }

        if (reads)
        {
            Assert.False(fixture.Server.IsClosed);
        }
        else
        {
            await Eventually.TrueAsync(() => fixture.Server.IsClosed, "the tunnel closed");
        }
    }

    private static (string, string)[] Connect(string authority, params (string, string)[] more) =>
    [
        (":method", "CONNECT"),
        (":protocol", TunnelProtocol.ConnectProtocol),
        (":scheme", "https"),
        (":path", "/"),
        (":authority", authority),
        .. more,
    ];

    private readonly record struct Frame(byte Type, byte Flags, int StreamId, byte[] Payload);

    /// <summary>A tunnel server on one end of a loopback TLS connection, a raw frame writer on the other.</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly Socket _serverSocket;
        private readonly Channel _streams = new();

        private Fixture(Socket serverSocket, RawClient client)
        {
            _serverSocket = serverSocket;
            Client = client;
        }

        public TunnelServerConnection Server { get; private set; } = null!;

        public RawClient Client { get; }

        public ConcurrentQueue<(TunnelStream Stream, TunnelRequest Request)> Streams => _streams.All;

        public static async Task<Fixture> StartAsync(byte[]? preface = null, bool smallBuffers = false)
        {
            using var serverCert = SelfSigned("server");
            using var clientCert = SelfSigned("client");
            using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            var clientSocket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (smallBuffers)
            {
                clientSocket.ReceiveBufferSize = 4096;
            }

            await clientSocket.ConnectAsync(listener.LocalEndPoint!);
            var serverSocket = await listener.AcceptAsync();
            if (smallBuffers)
            {
                serverSocket.SendBufferSize = 4096;
            }

            var serverTls = new SslStream(new NetworkStream(serverSocket, ownsSocket: false), leaveInnerStreamOpen: false);
            var clientTls = new SslStream(new NetworkStream(clientSocket, ownsSocket: true), leaveInnerStreamOpen: false);
            var serverThumbprint = serverCert.Thumbprint;
            var clientThumbprint = clientCert.Thumbprint;
            await Task.WhenAll(
                serverTls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = serverCert,
                    ClientCertificateRequired = true,
                    RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == clientThumbprint,
                }),
                clientTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = "server",
                    ClientCertificates = [clientCert],
                    RemoteCertificateValidationCallback = (_, c, _, _) => c?.GetCertHashString() == serverThumbprint,
                }));

            var client = new RawClient(clientTls);
            var fixture = new Fixture(serverSocket, client);
            var tunnel = new TunnelConnection(serverTls, serverSocket, SpiffeId.Parse("spiffe://acme.corp/client"), [], DateTimeOffset.UnixEpoch);
            fixture.Server = new TunnelServerConnection(tunnel, TimeProvider.System, fixture._streams.Add);
            fixture.Server.Start();
            await client.StartAsync(preface);
            return fixture;
        }

        public Task<(TunnelStream Stream, TunnelRequest Request)> NextStreamAsync() => _streams.NextAsync();

        /// <summary>The work of every stream handed over so far ends.</summary>
        public void EndWork() => _streams.Work.TrySetResult();

        public async ValueTask DisposeAsync()
        {
            EndWork();
            await Server.DisposeAsync();
            await Client.DisposeAsync();
            _serverSocket.Dispose();
        }

        private static X509Certificate2 SelfSigned(string name)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        }
    }

    // The streams the server handed over, in order; a waiter per expected stream.
    private sealed class Channel
    {
        private readonly System.Threading.Channels.Channel<(TunnelStream, TunnelRequest)> _next = System.Threading.Channels.Channel.CreateUnbounded<(TunnelStream, TunnelRequest)>();

        public ConcurrentQueue<(TunnelStream Stream, TunnelRequest Request)> All { get; } = new();

        /// <summary>Completes the work of every stream handed over (until then each holds its place in the limit).</summary>
        public TaskCompletionSource Work { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Add(TunnelStream stream, TunnelRequest request)
        {
            All.Enqueue((stream, request));
            _next.Writer.TryWrite((stream, request));
            return Work.Task;
        }

        public async Task<(TunnelStream Stream, TunnelRequest Request)> NextAsync() =>
            await _next.Reader.ReadAsync().AsTask().WaitAsync(Eventually.DefaultTimeout);
    }

    /// <summary>An HTTP/2 client that writes whatever frames a test gives it.</summary>
    private sealed class RawClient(SslStream tls) : IAsyncDisposable
    {
        private readonly byte[] _header = new byte[Http2Frames.HeaderLength];

        public async Task StartAsync(byte[]? preface)
        {
            await tls.WriteAsync(preface ?? Http2Frames.Preface.ToArray());
            if (preface is null)
            {
                await SendFrameAsync(Http2Frames.Settings, 0, 0, []);
            }
        }

        public Task SendHeadersAsync(int streamId, (string Name, string Value)[] fields, bool endStream = false) =>
            SendFrameAsync(Http2Frames.Headers, (byte)(Http2Frames.EndHeaders | (endStream ? Http2Frames.EndStream : 0)), streamId, Hpack.EncodeRequest(fields));

        public Task SendFrameAsync(byte type, byte flags, int streamId, byte[] payload) => SendRawAsync(Http2Frames.Frame(type, flags, streamId, payload));

        public async Task SendRawAsync(byte[] frames) => await tls.WriteAsync(frames);

        public async Task<Frame> ReadFrameAsync()
        {
            await tls.ReadExactlyAsync(_header).AsTask().WaitAsync(Eventually.DefaultTimeout);
            var length = (_header[0] << 16) | (_header[1] << 8) | _header[2];
            var payload = new byte[length];
            await tls.ReadExactlyAsync(payload).AsTask().WaitAsync(Eventually.DefaultTimeout);
            return new Frame(_header[3], _header[4], BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(5)) & int.MaxValue, payload);
        }

        public async Task<Frame> ReadUntilAsync(Func<Frame, bool> wanted)
        {
            while (true)
            {
                var frame = await ReadFrameAsync();
                if (wanted(frame))
                {
                    return frame;
                }
            }
        }

        public ValueTask DisposeAsync() => tls.DisposeAsync();
    }
}
