namespace Anchorage.Agent.Internal;

/// <summary>
/// A bounded map whose values carry an expiry: at most <c>capacity</c> entries; when full, the
/// expired entries go first, then the least recently used. Thread-safe. What an expired entry
/// means on lookup is the caller's to decide (<see cref="TryGet"/> returns it with its expiry).
/// </summary>
internal sealed class ExpiringLruCache<TKey, TValue>(int capacity, TimeProvider time)
    where TKey : notnull
    where TValue : class
{
    private readonly Dictionary<TKey, LinkedListNode<Item>> _items = [];
    private readonly LinkedList<Item> _recency = new();
    private readonly Lock _lock = new();

    /// <summary>Entries held now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>The value under <paramref name="key"/> and when it expires, made the most recently used; false when there is none.</summary>
    public bool TryGet(TKey key, out TValue value, out DateTimeOffset expiresAt)
    {
        lock (_lock)
        {
            if (!_items.TryGetValue(key, out var node))
            {
                (value, expiresAt) = (null!, default);
                return false;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            (value, expiresAt) = (node.Value.Value, node.Value.ExpiresAt);
            return true;
        }
    }

    /// <summary>Keeps <paramref name="value"/> under <paramref name="key"/> (replacing what was there) until <paramref name="expiresAt"/>.</summary>
    public void Set(TKey key, TValue value, DateTimeOffset expiresAt)
    {
        lock (_lock)
        {
            if (_items.TryGetValue(key, out var old))
            {
                Remove(old);
            }

            if (_items.Count >= capacity)
            {
                var now = time.GetUtcNow();
                foreach (var node in _items.Values.Where(n => now >= n.Value.ExpiresAt).ToList())
                {
                    Remove(node);
                }
            }

            while (_items.Count >= capacity)
            {
                Remove(_recency.Last!);
            }

            _items[key] = _recency.AddFirst(new Item(key, value, expiresAt));
        }
    }

    /// <summary>Drops <paramref name="key"/> if it still holds <paramref name="value"/> (not one set since).</summary>
    public void Remove(TKey key, TValue value)
    {
        lock (_lock)
        {
            if (_items.TryGetValue(key, out var node) && ReferenceEquals(node.Value.Value, value))
            {
                Remove(node);
            }
        }
    }

    /// <summary>Drops every entry <paramref name="drop"/> selects.</summary>
    public void RemoveWhere(Func<TKey, bool> drop)
    {
        lock (_lock)
        {
            foreach (var node in _items.Values.Where(n => drop(n.Value.Key)).ToList())
            {
                Remove(node);
            }
        }
    }

    /// <summary>Drops everything.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _items.Clear();
            _recency.Clear();
        }
    }

    private void Remove(LinkedListNode<Item> node)
    {
        _items.Remove(node.Value.Key);
        _recency.Remove(node);
    }

    private sealed record Item(TKey Key, TValue Value, DateTimeOffset ExpiresAt);
}
