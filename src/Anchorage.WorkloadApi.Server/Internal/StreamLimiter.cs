namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>
/// Counts open streams per caller so one workload cannot exhaust the agent. A stream over the
/// limit waits up to <see cref="SlotWait"/> for a slot before it is refused: a caller that opens
/// and closes many short streams (first answer, then cancel) outruns the server noticing that the
/// earlier ones were cancelled, and should not be refused for streams it already gave up. Waiters
/// are served first come, first served: a freed slot is handed to the oldest waiter, never taken
/// by a newcomer. At most as many wait per caller as the limit, so waiting is bounded too.
/// </summary>
internal sealed class StreamLimiter(int maxPerCaller, TimeProvider time)
{
    /// <summary>How long a stream over the limit waits for one of the caller's slots to be freed.</summary>
    public static readonly TimeSpan SlotWait = TimeSpan.FromSeconds(2);

    private readonly Dictionary<string, Slots> _slots = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Takes a slot for <paramref name="caller"/>, waiting up to <see cref="SlotWait"/> for one to
    /// be handed over; null when none was (or when as many streams as the limit already wait).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async ValueTask<Lease?> AcquireAsync(string caller, CancellationToken cancellationToken)
    {
        LinkedListNode<TaskCompletionSource> waiter;
        lock (_lock)
        {
            if (!_slots.TryGetValue(caller, out var slots))
            {
                slots = new Slots();
                _slots[caller] = slots;
            }

            if (slots.Open < maxPerCaller && slots.Waiters.Count == 0)
            {
                slots.Open++;
                return new Lease(this, caller);
            }

            if (slots.Waiters.Count >= maxPerCaller)
            {
                return null;
            }

            waiter = slots.Waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        try
        {
            await waiter.Value.Task.WaitAsync(SlotWait, time, cancellationToken).ConfigureAwait(false);
            return new Lease(this, caller);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            bool handed;
            lock (_lock)
            {
                handed = waiter.Value.Task.IsCompleted;
                if (!handed)
                {
                    // Still queued: leave the queue (the caller's entry stays while it holds or waits).
                    var slots = _slots[caller];
                    slots.Waiters.Remove(waiter);
                    Forget(caller, slots);
                }
            }

            // A slot handed over as the wait ended is taken on a timeout, passed on when cancelled.
            if (e is TimeoutException)
            {
                return handed ? new Lease(this, caller) : null;
            }

            if (handed)
            {
                Release(caller);
            }

            throw;
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
            return _slots.TryGetValue(caller, out var slots) ? slots.Waiters.Count : 0;
        }
    }

    // A freed slot goes to the oldest waiter (it stays counted as open), else it is returned.
    private void Release(string caller)
    {
        lock (_lock)
        {
            if (!_slots.TryGetValue(caller, out var slots))
            {
                return;
            }

            if (slots.Waiters.First is { } oldest)
            {
                slots.Waiters.RemoveFirst();
                oldest.Value.TrySetResult();
                return;
            }

            slots.Open--;
            Forget(caller, slots);
        }
    }

    // Under the lock: an entry with nothing open and nobody waiting is dropped (the map stays bounded by live callers).
    private void Forget(string caller, Slots slots)
    {
        if (slots.Open <= 0 && slots.Waiters.Count == 0)
        {
            _slots.Remove(caller);
        }
    }

    private sealed class Slots
    {
        public int Open;
        public readonly LinkedList<TaskCompletionSource> Waiters = new();
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
