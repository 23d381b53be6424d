using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Anchorage.Agent.Gate.Transport.Tunnels;

/// <summary>A tunnel's TLS stream as a Kestrel connection (Kestrel speaks HTTP/2 on it; the gate did the TLS).</summary>
internal sealed class TunnelConnectionContext : ConnectionContext
{
    // A TLS record's largest plaintext (RFC 8446 §5.1), and a few records per pipe segment.
    private const int TlsRecordSize = 16 * 1024;
    private const int PipeBufferSize = 4 * TlsRecordSize;

    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TunnelConnection _tunnel;

    public TunnelConnectionContext(string id, TunnelConnection tunnel)
    {
        _tunnel = tunnel;
        ConnectionId = id;
        // Buffers of a TLS record's size or more: with the pipes' 4 KiB defaults every flush wrote
        // one small TLS record (and one send) per 4 KiB segment, and every read decrypted into 4 KiB.
        // Zero-byte reads first: an idle tunnel's pending read then holds no segment.
        Transport = new Duplex(
            PipeReader.Create(tunnel.Tls, new StreamPipeReaderOptions(bufferSize: PipeBufferSize, minimumReadSize: TlsRecordSize, leaveOpen: true, useZeroByteReads: true)),
            PipeWriter.Create(tunnel.Tls, new StreamPipeWriterOptions(minimumBufferSize: PipeBufferSize, leaveOpen: true)));
        LocalEndPoint = tunnel.Socket.LocalEndPoint;
        RemoteEndPoint = tunnel.Socket.RemoteEndPoint;
        ConnectionClosed = _closed.Token;
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>Completes when Kestrel is done with the connection.</summary>
    public Task Done => _done.Task;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Close();
        try
        {
            _tunnel.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Both);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    /// <summary>Closes the tunnel (the gate stops, or its stream ended).</summary>
    public void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Done meanwhile.
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        _done.TrySetResult();
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
