namespace Anchorage.Foundation.Limits;

/// <summary>
/// A token bucket per key (a uid, an entry id): each key may take <c>burst</c> tokens at once and
/// gets <c>perSecond</c> back every second. Keys whose bucket is full again are forgotten once more
/// than <see cref="MaxTrackedKeys"/> are held, so the table stays bounded whatever keys callers choose.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
public sealed class KeyedTokenBucket<TKey>
    where TKey : notnull
{
    /// <summary>How many keys are tracked before full buckets are dropped.</summary>
    public const int MaxTrackedKeys = 4096;

    private readonly Dictionary<TKey, Bucket> _buckets = [];
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly int _burst;

    /// <summary>Creates the limiter.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="perSecond">Tokens given back per second (more than 0).</param>
    /// <param name="burst">Tokens a key may take at once (at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate or burst is out of range.</exception>
    public KeyedTokenBucket(TimeProvider time, double perSecond, int burst)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _time = time;
        _perSecond = perSecond;
        _burst = burst;
    }

    /// <summary>How many keys are tracked now (for tests).</summary>
    public int TrackedKeys
    {
        get
        {
            lock (_lock)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>Takes one token for <paramref name="key"/>; false when its bucket is empty.</summary>
    public bool TryTake(TKey key)
    {
        var now = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                if (_buckets.Count >= MaxTrackedKeys)
                {
                    Prune(now);
                }

                bucket = new Bucket(_burst, now);
            }

            var tokens = Math.Min(_burst, bucket.Tokens + (_time.GetElapsedTime(bucket.Stamp, now).TotalSeconds * _perSecond));
            if (tokens < 1)
            {
                _buckets[key] = new Bucket(tokens, now);
                return false;
            }

            _buckets[key] = new Bucket(tokens - 1, now);
            return true;
        }
    }

    // Full buckets carry no state worth keeping: a forgotten key starts full again. When every
    // tracked key is busy, the table still must not grow, so the oldest half goes.
    private void Prune(long now)
    {
        var full = _buckets.Where(b => b.Value.Tokens + (_time.GetElapsedTime(b.Value.Stamp, now).TotalSeconds * _perSecond) >= _burst)
            .Select(b => b.Key).ToList();
        foreach (var key in full)
        {
            _buckets.Remove(key);
        }

        if (_buckets.Count >= MaxTrackedKeys)
        {
            foreach (var key in _buckets.OrderBy(b => b.Value.Stamp).Take(_buckets.Count / 2).Select(b => b.Key).ToList())
            {
                _buckets.Remove(key);
            }
        }
    }

    private readonly record struct Bucket(double Tokens, long Stamp);
}
