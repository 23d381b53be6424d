using System.Collections.Concurrent;

namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>Counts open streams per caller so one workload cannot exhaust the agent.</summary>
internal sealed class StreamLimiter(int maxPerCaller)
{
    private readonly ConcurrentDictionary<string, int> _open = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Takes a slot for <paramref name="caller"/>; null when its limit is reached.</summary>
    public Lease? TryAcquire(string caller)
    {
        lock (_lock)
        {
            var count = _open.GetValueOrDefault(caller);
            if (count >= maxPerCaller)
            {
                return null;
            }

            _open[caller] = count + 1;
            return new Lease(this, caller);
        }
    }

    /// <summary>Open streams of <paramref name="caller"/> (for tests and metrics).</summary>
    public int OpenStreams(string caller) => _open.GetValueOrDefault(caller);

    private void Release(string caller)
    {
        lock (_lock)
        {
            var count = _open.GetValueOrDefault(caller) - 1;
            if (count <= 0)
            {
                _open.TryRemove(caller, out _);
            }
            else
            {
                _open[caller] = count;
            }
        }
    }

    /// <summary>One held slot; disposing returns it.</summary>
    internal sealed class Lease(StreamLimiter owner, string caller) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(caller);
            }
        }
    }
}
