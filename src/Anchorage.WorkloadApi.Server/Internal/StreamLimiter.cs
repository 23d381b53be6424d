namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>
/// Counts open streams per caller so one workload cannot exhaust the agent. A stream over the
/// limit waits up to <see cref="SlotWait"/> for a slot before it is refused: a caller that opens
/// and closes many short streams (first answer, then cancel) outruns the server noticing that the
/// earlier ones were cancelled, and should not be refused for streams it already gave up. At most
/// as many callers wait per key as the limit, so waiting is bounded too.
/// </summary>
internal sealed class StreamLimiter(int maxPerCaller, TimeProvider time)
{
    /// <summary>How long a stream over the limit waits for one of the caller's slots to be freed.</summary>
    public static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Slots> _slots = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Takes a slot for <paramref name="caller"/>, waiting up to <see cref="SlotWait"/> for one to
    /// be freed; null when none was (or when as many streams as the limit already wait).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async ValueTask<Lease?> AcquireAsync(string caller, CancellationToken cancellationToken)
    {
        Task freed;
        lock (_lock)
        {
            if (TryTake(caller) is { } lease)
            {
                return lease;
            }

            var slots = _slots[caller];
            if (slots.Waiting >= maxPerCaller)
            {
                return null;
            }

            slots.Waiting++;
            freed = slots.Freed.Task;
        }

        var started = time.GetTimestamp();
        try
        {
            while (true)
            {
                var remaining = SlotWait - time.GetElapsedTime(started);
                if (remaining > TimeSpan.Zero)
                {
                    try
                    {
                        await freed.WaitAsync(remaining, time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (TimeoutException)
                    {
                        // One more look below: a slot freed at the deadline is still taken.
                    }
                }

                lock (_lock)
                {
                    if (TryTake(caller) is { } lease)
                    {
                        return lease;
                    }

                    if (time.GetElapsedTime(started) >= SlotWait)
                    {
                        return null;
                    }

                    freed = _slots[caller].Freed.Task;
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                if (_slots.TryGetValue(caller, out var slots))
                {
                    slots.Waiting--;
                    Forget(caller, slots);
                }
            }
        }
    }

    /// <summary>Open streams of <paramref name="caller"/> (for tests and metrics).</summary>
    public int OpenStreams(string caller)
    {
        lock (_lock)
        {
            return _slots.TryGetValue(caller, out var slots) ? slots.Open : 0;
        }
    }

    /// <summary>Streams of <paramref name="caller"/> waiting for a slot (for tests).</summary>
    public int WaitingStreams(string caller)
    {
        lock (_lock)
        {
            return _slots.TryGetValue(caller, out var slots) ? slots.Waiting : 0;
        }
    }

    // Under the lock. Creates the caller's entry when it has none (a refused caller keeps it while it waits).
    private Lease? TryTake(string caller)
    {
        if (!_slots.TryGetValue(caller, out var slots))
        {
            slots = new Slots();
            _slots[caller] = slots;
        }

        if (slots.Open >= maxPerCaller)
        {
            return null;
        }

        slots.Open++;
        return new Lease(this, caller);
    }

    private void Release(string caller)
    {
        TaskCompletionSource? freed = null;
        lock (_lock)
        {
            if (_slots.TryGetValue(caller, out var slots))
            {
                slots.Open--;
                if (slots.Waiting > 0)
                {
                    freed = slots.Freed;
                    slots.Freed = NewSignal();
                }

                Forget(caller, slots);
            }
        }

        freed?.TrySetResult();
    }

    // Under the lock: an entry with nothing open and nobody waiting is dropped (the map stays bounded by live callers).
    private void Forget(string caller, Slots slots)
    {
        if (slots.Open <= 0 && slots.Waiting <= 0)
        {
            _slots.Remove(caller);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class Slots
    {
        public int Open;
        public int Waiting;
        public TaskCompletionSource Freed = NewSignal();
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
