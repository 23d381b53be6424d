using System.Collections.Frozen;
using System.Collections.Immutable;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Cache;

/// <summary>One immutable state of the cache; the synchronizer builds the next and publishes it whole.</summary>
internal sealed record CacheState
{
    /// <summary>The entries this node may hold, by entry id.</summary>
    public ImmutableDictionary<string, CachedEntry> Entries
    {
        get;
        init
        {
            field = value;

            // A `with` copy carries the index of the state it copies: drop it when the entries change.
            _bySelector = null;
        }
    }

    = ImmutableDictionary.Create<string, CachedEntry>(StringComparer.Ordinal);

    /// <summary>The SVIDs held, by entry id.</summary>
    public ImmutableDictionary<string, CachedSvid> Svids { get; init; } = ImmutableDictionary.Create<string, CachedSvid>(StringComparer.Ordinal);

    /// <summary>The own trust domain's bundle; null until the first sync.</summary>
    public SpiffeBundle? OwnBundle { get; init; }

    /// <summary>Federated bundles, by trust domain; each confined to its own domain.</summary>
    public ImmutableDictionary<TrustDomain, SpiffeBundle> Federated { get; init; } = ImmutableDictionary<TrustDomain, SpiffeBundle>.Empty;

    /// <summary>The entry revision the agent is in sync with (0: never synced).</summary>
    public long Revision { get; init; }

    /// <summary>
    /// Entries by each of their selectors, built once per state on first use: a caller's entries
    /// are found from its own selectors instead of by scanning every entry on every call.
    /// </summary>
    public FrozenDictionary<string, CachedEntry[]> BySelector => _bySelector ??= Index(Entries);

    private FrozenDictionary<string, CachedEntry[]>? _bySelector;

    private static FrozenDictionary<string, CachedEntry[]> Index(ImmutableDictionary<string, CachedEntry> entries) =>
        entries.Values
            .SelectMany(e => e.Selectors.Select(s => (Selector: s, Entry: e)))
            .GroupBy(p => p.Selector, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(p => p.Entry).ToArray(), StringComparer.Ordinal);
}
