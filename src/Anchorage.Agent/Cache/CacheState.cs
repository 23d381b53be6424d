using System.Collections.Immutable;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Cache;

/// <summary>One immutable state of the cache; the synchronizer builds the next and publishes it whole.</summary>
internal sealed record CacheState
{
    /// <summary>The entries this node may hold, by entry id.</summary>
    public ImmutableDictionary<string, CachedEntry> Entries { get; init; } = ImmutableDictionary.Create<string, CachedEntry>(StringComparer.Ordinal);

    /// <summary>The SVIDs held, by entry id.</summary>
    public ImmutableDictionary<string, CachedSvid> Svids { get; init; } = ImmutableDictionary.Create<string, CachedSvid>(StringComparer.Ordinal);

    /// <summary>The own trust domain's bundle; null until the first sync.</summary>
    public SpiffeBundle? OwnBundle { get; init; }

    /// <summary>Federated bundles, by trust domain; each confined to its own domain.</summary>
    public ImmutableDictionary<TrustDomain, SpiffeBundle> Federated { get; init; } = ImmutableDictionary<TrustDomain, SpiffeBundle>.Empty;

    /// <summary>The entry revision the agent is in sync with (0: never synced).</summary>
    public long Revision { get; init; }
}
