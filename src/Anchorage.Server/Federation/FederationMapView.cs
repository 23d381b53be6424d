using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Entry = Anchorage.Protos.Common.V1.Entry;

namespace Anchorage.Server.Federation;

/// <summary>
/// The enforcement map of one federated trust domain (issue 15 item 4), built from what the admin
/// API answers: where the peer's SPIFFE IDs are validated (the agents that receive its bundle, with
/// the sequence each reported holding), which local entries federate with it and on which nodes they
/// run, which policy rules name it, and where connections with it were finally permitted or refused
/// (the gates that reported traffic). One builder for <c>anchorage federation map</c> (over the admin
/// socket) and the web console's relationship page (in-process), see <see cref="LoadAsync"/>.
/// </summary>
/// <param name="TrustDomain">The federated trust domain.</param>
/// <param name="Status">Its relationship's status (sequence the server serves, approval, observed use, held sequences).</param>
/// <param name="Entries">Local entries whose <c>federatesWith</c> names it, with the agents that may hold each.</param>
/// <param name="Agents">
/// The attested, unbanned agents: every one receives every distributed federated bundle at its next
/// sync (empty when the bundle is not distributed: pending approval or suspended), with the sequence
/// it last reported holding.
/// </param>
/// <param name="Rules">Policy rules whose <c>from</c> or <c>to</c> names the trust domain or one of its IDs.</param>
/// <param name="PolicyMode"><c>enforce</c> or <c>audit</c>; null when no policy was applied.</param>
/// <param name="Gates">The agents whose gate (or Workload API) reported traffic with it, per direction.</param>
public sealed record FederationMapView(
    string TrustDomain,
    Protos.Admin.V1.FederationStatus Status,
    IReadOnlyList<FederationMapView.MappedEntry> Entries,
    IReadOnlyList<FederationMapView.MappedAgent> Agents,
    IReadOnlyList<FederationMapView.MappedRule> Rules,
    string? PolicyMode,
    IReadOnlyList<ObservedUse> Gates)
{
    /// <summary>How many parent levels <see cref="Create"/> follows, as the server's authorized-entries walk does.</summary>
    public const int MaxDepth = 8;

    /// <summary>
    /// Reads what the map needs from <paramref name="source"/> (the relationship's status, the server's
    /// trust domain, the entries federating with it and the parents above them level by level, each
    /// SPIFFE ID asked once, the agents and the stored policy) and builds it with <see cref="Create"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The source repeated a page token, or the stored policy cannot be parsed.</exception>
    public static async Task<FederationMapView> LoadAsync(IFederationMapSource source, string trustDomain, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        var status = await source.GetFederationAsync(new GetFederationRequest { TrustDomain = trustDomain }, cancellationToken).ConfigureAwait(false);
        var server = await source.GetServerInfoAsync(cancellationToken).ConfigureAwait(false);
        var federating = await ListEntriesAsync(source, new ListEntriesRequest { FederatesWith = trustDomain }, cancellationToken).ConfigureAwait(false);
        var agents = (await source.ListAgentsAsync(cancellationToken).ConfigureAwait(false)).Agents;
        var serverId = $"spiffe://{server.TrustDomain}{Foundation.Ids.AnchorageIds.ServerPath}";

        // The entries whose SPIFFE ID is a parent on the way up (node aliases, nested entries), level by level as Create walks them.
        var ancestors = new List<Entry>();
        var asked = new HashSet<string>(StringComparer.Ordinal);
        var pending = ParentsToLookUp(federating.Select(e => e.ParentId), agents, serverId).ToList();
        for (var depth = 1; depth <= MaxDepth && pending.Count > 0; depth++)
        {
            var found = new List<Entry>();
            foreach (var id in pending.Where(asked.Add))
            {
                found.AddRange(await ListEntriesAsync(source, new ListEntriesRequest { SpiffeId = id }, cancellationToken).ConfigureAwait(false));
            }

            ancestors.AddRange(found);
            pending = [.. ParentsToLookUp(found.Where(e => e.ParentId != serverId).Select(e => e.ParentId), agents, serverId)];
        }

        CommunicationPolicy? policy = null;
        if (await source.GetPolicyAsync(cancellationToken).ConfigureAwait(false) is { } stored)
        {
            var parsed = PolicyDocument.Parse(stored.Yaml, "stored policy");
            policy = parsed.IsValid
                ? parsed.Value
                : throw new InvalidDataException("the stored policy cannot be read by this version of anchorage: " + parsed.ErrorLines.First());
        }

        return Create(trustDomain, status, federating, ancestors, agents, policy, serverId);
    }

    /// <summary>An entry federating with the trust domain and the agents that may hold it.</summary>
    public sealed record MappedEntry(string Id, string SpiffeId, string ParentId, IReadOnlyList<string> Nodes);

    /// <summary>An agent receiving the bundle; <paramref name="HeldSequence"/> is the sequence it last reported holding (null: not reported, or it holds none).</summary>
    public sealed record MappedAgent(string SpiffeId, ulong? HeldSequence, long ReportedAt);

    /// <summary>A rule naming the trust domain: <paramref name="Sides"/> is <c>from</c>, <c>to</c> or <c>from,to</c>.</summary>
    public sealed record MappedRule(string Name, string Action, string From, string To, string Sides);

    /// <summary>
    /// Builds the map. An entry's nodes are found by walking up its parents, as the server hands
    /// entries to agents: a parent that is an agent's SPIFFE ID is that agent; a parent that is a
    /// node-alias entry (itself parented by <paramref name="serverId"/>) is every agent with all of
    /// the alias's selectors; a parent that is another entry's SPIFFE ID is that entry's nodes, in
    /// turn, up to <see cref="MaxDepth"/> levels, each parent ID once (so cycles end).
    /// </summary>
    /// <param name="trustDomain">The federated trust domain.</param>
    /// <param name="status">Its status.</param>
    /// <param name="federating">Entries that federate with it.</param>
    /// <param name="ancestors">Entries whose SPIFFE ID is a parent on the way up (node aliases, nested entries); others are ignored.</param>
    /// <param name="agents">Every attested agent.</param>
    /// <param name="policy">The stored policy; null for none.</param>
    /// <param name="serverId">The local server's SPIFFE ID (<c>spiffe://TD/anchorage/server</c>), the parent of node-alias entries.</param>
    public static FederationMapView Create(
        string trustDomain,
        Protos.Admin.V1.FederationStatus status,
        IReadOnlyList<Entry> federating,
        IReadOnlyList<Entry> ancestors,
        IReadOnlyList<AgentInfo> agents,
        CommunicationPolicy? policy,
        string serverId)
    {
        var live = agents.Where(a => !a.Banned).OrderBy(a => a.SpiffeId, StringComparer.Ordinal).ToList();
        var bySpiffeId = ancestors.GroupBy(e => e.SpiffeId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var entries = federating
            .OrderBy(e => e.SpiffeId, StringComparer.Ordinal)
            .ThenBy(e => e.Id, StringComparer.Ordinal)
            .Select(e => new MappedEntry(e.Id, e.SpiffeId, e.ParentId, NodesOf(e.ParentId, bySpiffeId, live, serverId)))
            .ToList();
        var td = Spiffe.Ids.TrustDomain.Parse(trustDomain);
        var rules = policy?.Rules
            .Select(r => (Rule: r, From: Names(r.From.Identity, td), To: Names(r.To.Identity, td)))
            .Where(r => r.From || r.To)
            .Select(r => new MappedRule(
                r.Rule.Name,
                r.Rule.Action == PolicyAction.Allow ? "allow" : "deny",
                r.Rule.From.Identity.ToString()!,
                r.Rule.To.Identity.ToString()!,
                r.From && r.To ? "from,to" : r.From ? "from" : "to"))
            .ToList() ?? [];
        var mode = policy is null ? null : policy.Mode == Policy.PolicyMode.Audit ? "audit" : "enforce";
        var held = status.Held.ToDictionary(h => h.AgentId, StringComparer.Ordinal);
        return new FederationMapView(
            trustDomain,
            status,
            entries,
            status.Distributed
                ? [.. live.Select(a => held.TryGetValue(a.SpiffeId, out var h) ? new MappedAgent(a.SpiffeId, h.Sequence, h.ReportedAt) : new MappedAgent(a.SpiffeId, null, 0))]
                : [],
            rules,
            mode,
            [.. status.Usage.OrderBy(u => u.AgentId, StringComparer.Ordinal).ThenBy(u => u.Direction, StringComparer.Ordinal).ThenBy(u => u.Listener, StringComparer.Ordinal)]);
    }

    /// <summary>
    /// The SPIFFE IDs of the parents <see cref="Create"/> may need to follow from <paramref name="parentIds"/>:
    /// those that are not agents (the caller lists the entries with each, then asks again with their parents).
    /// </summary>
    public static IEnumerable<string> ParentsToLookUp(IEnumerable<string> parentIds, IReadOnlyList<AgentInfo> agents, string serverId)
    {
        var agentIds = agents.Select(a => a.SpiffeId).ToHashSet(StringComparer.Ordinal);
        return parentIds.Where(p => p != serverId && !agentIds.Contains(p)).Distinct(StringComparer.Ordinal);
    }

    private static async Task<List<Entry>> ListEntriesAsync(IFederationMapSource source, ListEntriesRequest request, CancellationToken cancellationToken)
    {
        var all = new List<Entry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        do
        {
            var page = await source.ListEntriesAsync(request, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Entries);

            // A source that hands back a token it already gave would loop forever.
            if (page.NextPageToken.Length > 0 && !seen.Add(page.NextPageToken))
            {
                throw new InvalidDataException($"the server repeated page token \"{page.NextPageToken}\"");
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);
        return all;
    }

    private static bool Names(IdentityPattern pattern, TrustDomain td) => pattern switch
    {
        IdentityPattern.Exact exact => exact.Id.TrustDomain == td,
        IdentityPattern.Prefix prefix => prefix.TrustDomain == td,
        IdentityPattern.InTrustDomain inTd => inTd.TrustDomain == td,
        _ => false,
    };

    private static List<string> NodesOf(string parentId, Dictionary<string, List<Entry>> bySpiffeId, List<AgentInfo> agents, string serverId)
    {
        var nodes = new SortedSet<string>(StringComparer.Ordinal);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var level = new List<string> { parentId };
        for (var depth = 1; depth <= MaxDepth && level.Count > 0; depth++)
        {
            var next = new List<string>();
            foreach (var parent in level.Where(visited.Add))
            {
                foreach (var agent in agents.Where(a => string.Equals(a.SpiffeId, parent, StringComparison.Ordinal)))
                {
                    nodes.Add(agent.SpiffeId);
                }

                foreach (var above in bySpiffeId.GetValueOrDefault(parent) ?? [])
                {
                    if (string.Equals(above.ParentId, serverId, StringComparison.Ordinal))
                    {
                        // A node alias: the agents that have every one of its selectors.
                        foreach (var agent in agents.Where(a => above.Selectors.All(s => a.Selectors.Any(n => n.Type == s.Type && n.Value == s.Value))))
                        {
                            nodes.Add(agent.SpiffeId);
                        }
                    }
                    else
                    {
                        next.Add(above.ParentId);
                    }
                }
            }

            level = next;
        }

        return [.. nodes];
    }
}
