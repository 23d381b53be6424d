using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Agent.Gate.Internal;

/// <summary>
/// Peer chains that passed a full verification, by the SHA-256 of their leaf, so that a resumed
/// TLS session can be verified again. OpenSSL keeps only the peer's leaf in a server-side
/// session ticket, so a resumed handshake shows the inbound gate the leaf without the
/// intermediates the peer sent; <see cref="PeerCheck"/> takes them from here and verifies the
/// whole chain against the bundle current at that moment, as on a full handshake. The cached
/// intermediates are only path hints: nothing here is trusted without that verification, and a
/// resumed leaf that is not here is refused.
/// </summary>
/// <remarks>
/// Bounded: at most <c>capacity</c> chains (the gate keeps <see cref="DefaultCapacity"/>, one per
/// distinct peer SVID, typically two certificates, a few KB); when full, a chain whose leaf has
/// expired goes first, then the least recently used. A peer whose chain was dropped is refused on
/// its next resumed handshake and does a full one after that.
/// </remarks>
internal sealed class VerifiedChainCache(int capacity, TimeProvider time)
{
    /// <summary>The gate's bound: distinct peer SVIDs remembered for resumption.</summary>
    public const int DefaultCapacity = 4096;

    private readonly Dictionary<string, LinkedListNode<Item>> _items = new(StringComparer.Ordinal);
    private readonly LinkedList<Item> _recency = new();
    private readonly Lock _lock = new();

    /// <summary>Chains held now.</summary>
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

    /// <summary>
    /// The chain remembered for <paramref name="leaf"/> (the same DER, leaf first), or null.
    /// </summary>
    public IReadOnlyList<X509Certificate2>? Find(X509Certificate2 leaf)
    {
        var key = KeyOf(leaf);
        lock (_lock)
        {
            if (!_items.TryGetValue(key, out var node)
                || !node.Value.Chain[0].RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span))
            {
                return null;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            return node.Value.Chain;
        }
    }

    /// <summary>Remembers <paramref name="chain"/> (leaf first), which has just been verified in full.</summary>
    public void Add(IReadOnlyList<X509Certificate2> chain)
    {
        ArgumentOutOfRangeException.ThrowIfZero(chain.Count);
        var key = KeyOf(chain[0]);
        lock (_lock)
        {
            if (_items.TryGetValue(key, out var old))
            {
                Remove(old);
            }

            if (_items.Count >= capacity)
            {
                DropExpired(time.GetUtcNow());
            }

            while (_items.Count >= capacity)
            {
                Remove(_recency.Last!);
            }

            _items[key] = _recency.AddFirst(new Item(key, chain, chain[0].NotAfter.ToUniversalTime()));
        }
    }

    private static string KeyOf(X509Certificate2 leaf) => Convert.ToHexString(SHA256.HashData(leaf.RawDataMemory.Span));

    private void DropExpired(DateTimeOffset now)
    {
        for (var node = _recency.Last; node is not null;)
        {
            var previous = node.Previous;
            if (node.Value.NotAfter <= now.UtcDateTime)
            {
                Remove(node);
            }

            node = previous;
        }
    }

    private void Remove(LinkedListNode<Item> node)
    {
        _items.Remove(node.Value.Key);
        _recency.Remove(node);
    }

    private sealed record Item(string Key, IReadOnlyList<X509Certificate2> Chain, DateTime NotAfter);
}
