using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Internal;

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

    private readonly ExpiringLruCache<string, IReadOnlyList<X509Certificate2>> _chains = new(capacity, time);

    /// <summary>Chains held now.</summary>
    public int Count => _chains.Count;

    /// <summary>
    /// The chain remembered for <paramref name="leaf"/> (the same DER, leaf first), or null. An
    /// expired leaf's chain is still given: the verification that follows says it expired.
    /// </summary>
    public IReadOnlyList<X509Certificate2>? Find(X509Certificate2 leaf) =>
        _chains.TryGet(KeyOf(leaf), out var chain, out _) && chain[0].RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span)
            ? chain
            : null;

    /// <summary>Remembers <paramref name="chain"/> (leaf first), which has just been verified in full.</summary>
    public void Add(IReadOnlyList<X509Certificate2> chain)
    {
        ArgumentOutOfRangeException.ThrowIfZero(chain.Count);
        _chains.Set(KeyOf(chain[0]), chain, new DateTimeOffset(chain[0].NotAfter.ToUniversalTime(), TimeSpan.Zero));
    }

    private static string KeyOf(X509Certificate2 leaf) => Convert.ToHexString(SHA256.HashData(leaf.RawDataMemory.Span));
}
