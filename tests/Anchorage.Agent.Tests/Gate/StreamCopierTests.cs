using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Anchorage.Agent.Gate.Splicing;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Gate;

/// <summary>The gate's stream copier and splicer over real loopback TCP sockets.</summary>
public sealed class StreamCopierTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task CopyAsync_SourceEnds_CompletedWithByteCount()
    {
        var data = Encoding.ASCII.GetBytes(new string('x', 200_000));
        using var source = new MemoryStream(data);
        using var destination = new MemoryStream();
        var counter = new ByteCounter();

        var outcome = await StreamCopier.CopyAsync(source, destination, counter, null, CancellationToken.None);

        Assert.Equal(StreamCopyResult.Completed, outcome.Result);
        Assert.Equal(data.Length, outcome.Bytes);
        Assert.Equal(data.Length, counter.Bytes);
        Assert.Null(outcome.Error);
        Assert.Equal(data, destination.ToArray());
    }

    [Fact]
    public async Task CopyAsync_Cancelled_Canceled()
    {
        var (client, server) = await ConnectedPairAsync();
        using var _ = client;
        using var __ = server;
        await using var source = new NetworkStream(server, ownsSocket: false);
        using var destination = new MemoryStream();
        using var cancel = new CancellationTokenSource();
        await client.SendAsync(new byte[] { 1, 2, 3 });

        var copy = StreamCopier.CopyAsync(source, destination, null, null, cancel.Token);
        await Eventually.TrueAsync(() => destination.Length == 3);
        await cancel.CancelAsync();
        var outcome = await copy.WaitAsync(Deadline);

        Assert.Equal(StreamCopyResult.Canceled, outcome.Result);
        Assert.Equal(3, outcome.Bytes);
    }

    [Fact]
    public async Task CopyAsync_SourceReset_SourceFailed()
    {
        var (client, server) = await ConnectedPairAsync();
        using var _ = server;
        await using var source = new NetworkStream(server, ownsSocket: false);
        using var destination = new MemoryStream();
        var copy = StreamCopier.CopyAsync(source, destination, null, null, CancellationToken.None);

        client.LingerState = new LingerOption(true, 0); // close sends RST
        client.Close();
        var outcome = await copy.WaitAsync(Deadline);

        Assert.Equal(StreamCopyResult.SourceFailed, outcome.Result);
        Assert.NotNull(outcome.Error);
    }

    [Fact]
    public async Task CopyAsync_DestinationClosed_DestinationFailed()
    {
        using var source = new MemoryStream(new byte[] { 1, 2, 3 });
        var destination = new MemoryStream();
        destination.Dispose();

        var outcome = await StreamCopier.CopyAsync(source, destination, null, null, CancellationToken.None);

        Assert.Equal(StreamCopyResult.DestinationFailed, outcome.Result);
        Assert.Equal(0, outcome.Bytes);
        Assert.IsType<ObjectDisposedException>(outcome.Error);
    }

    [Fact]
    public async Task CopyAsync_IdleBetweenBursts_HoldsNoBuffer()
    {
        var (client, server) = await ConnectedPairAsync();
        using var _ = client;
        using var __ = server;
        var source = new WaitObservingStream(new NetworkStream(server, ownsSocket: false));
        using var destination = new MemoryStream();
        var pool = new CountingPool();
        var copy = StreamCopier.CopyAsync(source, destination, null, pool, CancellationToken.None);

        // Idle before any data: waiting in a zero-byte read, no buffer rented.
        await source.WaitingForData(1).WaitAsync(Deadline);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(0, pool.Rented);

        await client.SendAsync(new byte[] { 1, 2, 3, 4 });
        await source.WaitingForData(2).WaitAsync(Deadline);

        // Idle again after a burst: the buffer went back.
        Assert.Equal(4, destination.Length);
        Assert.Equal(1, pool.Rented);
        Assert.Equal(0, pool.Outstanding);

        client.Shutdown(SocketShutdown.Send);
        var outcome = await copy.WaitAsync(Deadline);
        Assert.Equal(StreamCopyResult.Completed, outcome.Result);
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public async Task SpliceAsync_LocalHalfCloses_RemoteStillAnswersThenBothComplete()
    {
        var (localClient, localServer) = await ConnectedPairAsync();
        var (remoteClient, remoteServer) = await ConnectedPairAsync();
        using var a = localClient;
        using var b = localServer;
        using var c = remoteClient;
        using var d = remoteServer;
        await using var local = new SocketEnd(localServer);
        await using var remote = new SocketEnd(remoteClient);
        var sent = new ByteCounter();
        var received = new ByteCounter();
        var splice = StreamSplicer.SpliceAsync(local, remote, sent, received, CancellationToken.None);

        await localClient.SendAsync(Encoding.ASCII.GetBytes("hello"));
        localClient.Shutdown(SocketShutdown.Send);
        Assert.Equal("hello", await ReadToEndAsync(remoteServer));

        // The half-close reached the remote side; the other direction still flows.
        await remoteServer.SendAsync(Encoding.ASCII.GetBytes("world!"));
        remoteServer.Shutdown(SocketShutdown.Send);
        Assert.Equal("world!", await ReadToEndAsync(localClient));

        var outcome = await splice.WaitAsync(Deadline);
        Assert.Equal(new StreamCopyOutcome(StreamCopyResult.Completed, 5, null), outcome.ToRemote);
        Assert.Equal(new StreamCopyOutcome(StreamCopyResult.Completed, 6, null), outcome.FromRemote);
        Assert.Equal(5, sent.Bytes);
        Assert.Equal(6, received.Bytes);
    }

    [Fact]
    public async Task SpliceAsync_Cancelled_BothCanceledAndBothSidesClosed()
    {
        var (localClient, localServer) = await ConnectedPairAsync();
        var (remoteClient, remoteServer) = await ConnectedPairAsync();
        using var a = localClient;
        using var b = localServer;
        using var c = remoteClient;
        using var d = remoteServer;
        await using var local = new SocketEnd(localServer);
        await using var remote = new SocketEnd(remoteClient);
        using var cancel = new CancellationTokenSource();
        var splice = StreamSplicer.SpliceAsync(local, remote, null, null, cancel.Token);

        await cancel.CancelAsync();
        var outcome = await splice.WaitAsync(Deadline);

        Assert.Equal(StreamCopyResult.Canceled, outcome.ToRemote.Result);
        Assert.Equal(StreamCopyResult.Canceled, outcome.FromRemote.Result);
        Assert.Equal(string.Empty, await ReadToEndAsync(localClient));
        Assert.Equal(string.Empty, await ReadToEndAsync(remoteServer));
    }

    [Fact]
    public async Task SpliceAsync_RemoteReset_LocalCutAtOnce_ThoughItsDirectionWasStillOpen()
    {
        var (localClient, localServer) = await ConnectedPairAsync();
        var (remoteClient, remoteServer) = await ConnectedPairAsync();
        using var a = localClient;
        using var b = localServer;
        using var c = remoteClient;
        using var d = remoteServer;
        await using var local = new SocketEnd(localServer);
        await using var remote = new SocketEnd(remoteClient);
        var splice = StreamSplicer.SpliceAsync(local, remote, null, null, CancellationToken.None);

        // The remote side resets (as a tunnel stream reset by the peer gate does); the caller sends nothing.
        remoteServer.LingerState = new LingerOption(true, 0);
        remoteServer.Close();
        var outcome = await splice.WaitAsync(Deadline);

        Assert.Equal(StreamCopyResult.SourceFailed, outcome.FromRemote.Result);
        Assert.Equal(string.Empty, await ReadToEndAsync(localClient));
    }

    private static async Task<(Socket Client, Socket Server)> ConnectedPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server);
    }

    // Through the socket itself: a NetworkStream cannot be made on a socket that shut its sending side.
    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        var text = new StringBuilder();
        var buffer = new byte[1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token)) > 0)
        {
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    /// <summary>A pool that counts what is rented and not yet returned.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        private int _outstanding;
        private int _rented;

        public int Outstanding => Volatile.Read(ref _outstanding);

        public int Rented => Volatile.Read(ref _rented);

        public override byte[] Rent(int minimumLength)
        {
            Interlocked.Increment(ref _rented);
            Interlocked.Increment(ref _outstanding);
            return new byte[minimumLength];
        }

        public override void Return(byte[] array, bool clearArray = false) => Interlocked.Decrement(ref _outstanding);
    }

    /// <summary>A real stream that signals each time a zero-byte read (a wait for data) starts.</summary>
    private sealed class WaitObservingStream(Stream inner) : Stream
    {
        private readonly Lock _lock = new();
        private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
        private int _waits;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        /// <summary>Completes once the <paramref name="count"/>th zero-byte read has started.</summary>
        public Task WaitingForData(int count)
        {
            lock (_lock)
            {
                var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_waits >= count)
                {
                    signal.SetResult();
                }
                else
                {
                    _waiters.Add((count, signal));
                }

                return signal.Task;
            }
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                lock (_lock)
                {
                    _waits++;
                    foreach (var waiter in _waiters.Where(w => w.Count <= _waits).ToList())
                    {
                        waiter.Signal.SetResult();
                        _waiters.Remove(waiter);
                    }
                }
            }

            return inner.ReadAsync(buffer, cancellationToken);
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
