using System.Buffers;
using System.Net.Sockets;

namespace Anchorage.Agent.Gate.Splicing;

/// <summary>
/// Copies one direction of a connection. Before each read it waits with a zero-byte read, and
/// only then rents a buffer, returning it once the data is written: an idle connection holds no
/// buffer, so thousands of idle connections cost no 64 KiB each. The ordinary ways a copy ends
/// (end of stream, a side reset or closed, cancellation) are a <see cref="StreamCopyResult"/>.
/// </summary>
internal static class StreamCopier
{
    /// <summary>The size of the buffer rented while data flows.</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="destination"/> until the source ends, a
    /// side fails or <paramref name="cancellationToken"/> is cancelled; <paramref name="counter"/>
    /// counts the bytes as they are written; buffers come from <paramref name="pool"/>
    /// (<see cref="ArrayPool{T}.Shared"/> when null).
    /// </summary>
    public static async Task<StreamCopyOutcome> CopyAsync(
        Stream source, Stream destination, ByteCounter? counter, ArrayPool<byte>? pool, CancellationToken cancellationToken)
    {
        pool ??= ArrayPool<byte>.Shared;
        long total = 0;
        while (true)
        {
            byte[]? buffer = null;
            int read;
            try
            {
                // Waits for data without a buffer; NetworkStream and SslStream support zero-byte reads.
                await source.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                buffer = pool.Rent(BufferSize);
                read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsOrdinary(e))
            {
                Return(pool, buffer);
                return new(Ended(e, StreamCopyResult.SourceFailed, cancellationToken), total, e);
            }

            if (read == 0)
            {
                Return(pool, buffer);
                return new(StreamCopyResult.Completed, total, null);
            }

            try
            {
                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsOrdinary(e))
            {
                return new(Ended(e, StreamCopyResult.DestinationFailed, cancellationToken), total, e);
            }
            finally
            {
                Return(pool, buffer);
            }

            total += read;
            counter?.Add(read);
        }
    }

    /// <summary>The exceptions a side closing, resetting or being cancelled raises.</summary>
    internal static bool IsOrdinary(Exception e) =>
        e is OperationCanceledException or IOException or SocketException or ObjectDisposedException;

    private static StreamCopyResult Ended(Exception e, StreamCopyResult failed, CancellationToken cancellationToken) =>
        e is OperationCanceledException || cancellationToken.IsCancellationRequested ? StreamCopyResult.Canceled : failed;

    private static void Return(ArrayPool<byte> pool, byte[]? buffer)
    {
        if (buffer is not null)
        {
            pool.Return(buffer);
        }
    }
}
