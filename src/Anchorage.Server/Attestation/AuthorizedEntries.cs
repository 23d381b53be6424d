using Anchorage.Foundation.Ids;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Attestation;

/// <summary>
/// An index of all registration entries that answers "which entries may this agent hold" in time
/// proportional to the answer: entries by parent ID, node-alias entries by selector.
/// </summary>
/// <remarks>
/// <para>An agent may hold (as SPIRE): the entries whose parent is its own ID; the entries whose
/// parent is one of its aliases, where an alias is the SPIFFE ID of a node-alias entry (parent
/// <c>spiffe://&lt;td&gt;/anchorage/server</c>) whose selectors are all among the agent's node
/// selectors; and, transitively, the entries whose parent is the SPIFFE ID of an entry it may hold
/// (nested agents, downstream servers). Node-alias entries themselves are never handed out. The
/// transitive walk stops at <see cref="MaxDepth"/> levels (an entry parented by the agent or an
/// alias is level 1) and visits each parent ID once, so cycles end.</para>
/// <para>The index is an immutable snapshot; build it with <see cref="LoadAsync"/> (which pages
/// through the store) or <see cref="Create"/>, and ask <see cref="For(AttestedNode)"/>. For
/// incremental sync, <see cref="AuthorizedEntrySet.IsAffectedBy(RegistrationEntry)"/> tells whether a
/// changed entry can change an agent's set at all.</para>
/// </remarks>
public sealed class AuthorizedEntries
{
    /// <summary>Default bound of the transitive walk: 8 levels.</summary>
    public const int DefaultMaxDepth = 8;

    /// <summary>Page size <see cref="LoadAsync"/> uses by default.</summary>
    public const int DefaultPageSize = 5000;

    private readonly Dictionary<SpiffeId, List<RegistrationEntry>> _byParent;
    private readonly Dictionary<Selector, List<RegistrationEntry>> _aliasesBySelector;

    private AuthorizedEntries(TrustDomain trustDomain, int maxDepth)
    {
        TrustDomain = trustDomain;
        ServerId = AnchorageIds.ServerId(trustDomain);
        MaxDepth = maxDepth;
        _byParent = [];
        _aliasesBySelector = [];
    }

    /// <summary>The trust domain whose server ID marks node-alias entries.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary><c>spiffe://&lt;td&gt;/anchorage/server</c>: entries parented by it are node-alias entries.</summary>
    public SpiffeId ServerId { get; }

    /// <summary>How many levels the transitive walk follows.</summary>
    public int MaxDepth { get; }

    /// <summary>How many entries the index holds (node-alias entries included).</summary>
    public int Count { get; private set; }

    /// <summary>Builds the index from every entry in <paramref name="store"/>, one page at a time.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDepth"/> is below 1, or <paramref name="pageSize"/> outside 1..10000.</exception>
    public static async Task<AuthorizedEntries> LoadAsync(
        IDataStore store, TrustDomain trustDomain, int maxDepth = DefaultMaxDepth, int pageSize = DefaultPageSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, 10000);
        var index = New(trustDomain, maxDepth);
        var query = new EntryQuery { PageSize = pageSize };
        while (true)
        {
            var page = await store.ListEntriesAsync(query, cancellationToken).ConfigureAwait(false);
            foreach (var entry in page.Entries)
            {
                index.Add(entry);
            }

            if (page.NextPageToken is null)
            {
                return index;
            }

            query = query with { PageToken = page.NextPageToken };
        }
    }

    /// <summary>Builds the index from <paramref name="entries"/> (ids assumed unique).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDepth"/> is below 1.</exception>
    public static AuthorizedEntries Create(TrustDomain trustDomain, IEnumerable<RegistrationEntry> entries, int maxDepth = DefaultMaxDepth)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var index = New(trustDomain, maxDepth);
        foreach (var entry in entries)
        {
            index.Add(entry);
        }

        return index;
    }

    /// <summary>The entries <paramref name="node"/> may hold.</summary>
    public AuthorizedEntrySet For(AttestedNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return For(node.SpiffeId, node.Selectors.IsDefault ? [] : node.Selectors);
    }

    /// <summary>The entries the agent <paramref name="agentId"/> with node selectors <paramref name="nodeSelectors"/> may hold.</summary>
    public AuthorizedEntrySet For(SpiffeId agentId, IEnumerable<Selector> nodeSelectors)
    {
        if (agentId.IsEmpty)
        {
            throw new ArgumentException("agent spiffe id is empty", nameof(agentId));
        }

        ArgumentNullException.ThrowIfNull(nodeSelectors);
        var selectors = nodeSelectors.ToHashSet();

        // Aliases: node-alias entries reachable by any node selector whose selectors all match.
        var evaluated = new HashSet<string>(StringComparer.Ordinal);
        var aliasEntryIds = new HashSet<string>(StringComparer.Ordinal);
        var aliasIds = new HashSet<SpiffeId>();
        foreach (var selector in selectors)
        {
            foreach (var alias in _aliasesBySelector.GetValueOrDefault(selector) ?? [])
            {
                if (evaluated.Add(alias.Id) && alias.Selectors.All(selectors.Contains))
                {
                    aliasEntryIds.Add(alias.Id);
                    aliasIds.Add(alias.SpiffeId);
                }
            }
        }

        // Breadth first, so each entry is found at its smallest depth; each parent is expanded once.
        var entries = new Dictionary<string, RegistrationEntry>(StringComparer.Ordinal);
        var parents = new HashSet<SpiffeId> { agentId };
        parents.UnionWith(aliasIds);
        parents.Remove(ServerId);
        var frontier = parents.ToList();
        for (var depth = 1; depth <= MaxDepth && frontier.Count > 0; depth++)
        {
            var next = new List<SpiffeId>();
            foreach (var parent in frontier)
            {
                foreach (var entry in _byParent.GetValueOrDefault(parent) ?? [])
                {
                    if (!entries.TryAdd(entry.Id, entry))
                    {
                        continue;
                    }

                    // Entries at the last level cannot parent authorized entries.
                    if (depth < MaxDepth && entry.SpiffeId != ServerId && parents.Add(entry.SpiffeId))
                    {
                        next.Add(entry.SpiffeId);
                    }
                }
            }

            frontier = next;
        }

        return new AuthorizedEntrySet(
            agentId,
            selectors,
            [.. aliasIds.Order()],
            aliasEntryIds,
            [.. entries.Values.OrderBy(e => e.Id, StringComparer.Ordinal)],
            parents,
            ServerId);
    }

    private static AuthorizedEntries New(TrustDomain trustDomain, int maxDepth)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", nameof(trustDomain));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxDepth, 1);
        return new AuthorizedEntries(trustDomain, maxDepth);
    }

    private void Add(RegistrationEntry entry)
    {
        Count++;
        if (entry.ParentId == ServerId)
        {
            foreach (var selector in entry.Selectors.Distinct())
            {
                (_aliasesBySelector.TryGetValue(selector, out var list) ? list : _aliasesBySelector[selector] = []).Add(entry);
            }

            return;
        }

        (_byParent.TryGetValue(entry.ParentId, out var children) ? children : _byParent[entry.ParentId] = []).Add(entry);
    }
}
