using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Cache.Internal;

/// <summary>
/// Minted JWT-SVIDs by (entry, audience), reused until half their lifetime has passed. Bounded:
/// at most <c>capacity</c> tokens; a token past its reuse time is dropped when met, and when the
/// cache is full the expired ones go first, then the least recently used.
/// </summary>
internal sealed class JwtSvidCache(int capacity, TimeProvider time)
{
    private readonly Dictionary<(string EntryId, string Audience), LinkedListNode<Item>> _items = [];
    private readonly LinkedList<Item> _recency = new();
    private readonly Lock _lock = new();

    /// <summary>Tokens held now.</summary>
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

    /// <summary>The token for <paramref name="entryId"/> and <paramref name="audience"/> while it may be reused.</summary>
    public JwtSvid? TryGet(string entryId, string audience)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_items.TryGetValue((entryId, audience), out var node))
            {
                return null;
            }

            if (now >= node.Value.ReuseUntil)
            {
                Remove(node);
                return null;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value.Svid;
        }
    }

    /// <summary>Keeps <paramref name="svid"/>; a token that may not be reused at all is not kept.</summary>
    public void Add(string entryId, string audience, JwtSvid svid)
    {
        var now = time.GetUtcNow();
        var reuseUntil = svid.IssuedAt is { } issued ? issued + ((svid.Expiry - issued) / 2) : now;
        if (reuseUntil <= now)
        {
            return;
        }

        lock (_lock)
        {
            if (_items.TryGetValue((entryId, audience), out var old))
            {
                Remove(old);
            }

            if (_items.Count >= capacity)
            {
                DropExpired(now);
            }

            while (_items.Count >= capacity)
            {
                Remove(_recency.Last!);
            }

            _items[(entryId, audience)] = _recency.AddFirst(new Item(entryId, audience, svid, reuseUntil));
        }
    }

    /// <summary>Drops every token of an entry that <paramref name="keep"/> rejects.</summary>
    public void RemoveEntries(Func<string, bool> keep)
    {
        lock (_lock)
        {
            foreach (var node in _items.Values.Where(n => !keep(n.Value.EntryId)).ToList())
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

    private void DropExpired(DateTimeOffset now)
    {
        foreach (var node in _items.Values.Where(n => now >= n.Value.ReuseUntil).ToList())
        {
            Remove(node);
        }
    }

    private void Remove(LinkedListNode<Item> node)
    {
        _items.Remove((node.Value.EntryId, node.Value.Audience));
        _recency.Remove(node);
    }

    private sealed record Item(string EntryId, string Audience, JwtSvid Svid, DateTimeOffset ReuseUntil);
}
