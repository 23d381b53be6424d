namespace Anchorage.Agent.Hosting.Internal;

/// <summary>
/// Counts the open Workload API connections, in all and per caller uid, so one local user cannot
/// take every file descriptor of the agent: a connection beyond either cap is closed at once.
/// </summary>
internal sealed class ConnectionLimiter(int maxConnections, int maxPerUid)
{
    private readonly Dictionary<uint, int> _perUid = [];
    private readonly Lock _lock = new();
    private int _total;

    /// <summary>Why a connection was refused: a short lowercase line.</summary>
    public const string TotalCapReached = "the agent holds its maximum of workload api connections";

    /// <summary>Why a connection was refused: a short lowercase line.</summary>
    public const string UidCapReached = "the caller's uid holds its maximum of workload api connections";

    /// <summary>Open connections, all uids.</summary>
    public int Open
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    /// <summary>Open connections of <paramref name="uid"/>.</summary>
    public int OpenFor(uint uid)
    {
        lock (_lock)
        {
            return _perUid.GetValueOrDefault(uid);
        }
    }

    /// <summary>Takes a slot for a connection of <paramref name="uid"/>; null (and why) when a cap is reached.</summary>
    public Lease? TryAcquire(uint uid, out string? refusal)
    {
        lock (_lock)
        {
            // The per-uid cap is checked first: a flooding uid is told about its own cap.
            var count = _perUid.GetValueOrDefault(uid);
            if (count >= maxPerUid)
            {
                refusal = UidCapReached;
                return null;
            }

            if (_total >= maxConnections)
            {
                refusal = TotalCapReached;
                return null;
            }

            _perUid[uid] = count + 1;
            _total++;
        }

        refusal = null;
        return new Lease(this, uid);
    }

    private void Release(uint uid)
    {
        lock (_lock)
        {
            _total--;
            var count = _perUid.GetValueOrDefault(uid) - 1;
            if (count <= 0)
            {
                _perUid.Remove(uid);
            }
            else
            {
                _perUid[uid] = count;
            }
        }
    }

    /// <summary>One held slot; disposing returns it.</summary>
    internal sealed class Lease(ConnectionLimiter owner, uint uid) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(uid);
            }
        }
    }
}
