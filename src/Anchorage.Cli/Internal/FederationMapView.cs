using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Entry = Anchorage.Protos.Common.V1.Entry;

namespace Anchorage.Cli.Internal;

/// <summary>
/// The enforcement map of one federated trust domain (issue 15 item 4), built from what the admin
/// API answers: where the peer's SPIFFE IDs are validated (the agents that receive its bundle),
/// which local entries federate with it and on which nodes they run, which policy rules name it,
/// and where connections with it were finally permitted or refused (the gates that reported traffic).
/// </summary>
/// <param name="TrustDomain">The federated trust domain.</param>
/// <param name="Status">Its relationship's status (sequence the server serves, approval, observed use).</param>
/// <param name="Entries">Local entries whose <c>federatesWith</c> names it, with the agents that may hold each.</param>
/// <param name="Agents">
/// The attested, unbanned agents: every one receives every distributed federated bundle at its next
/// sync (empty when the bundle is not distributed: pending approval or suspended).
/// </param>
/// <param name="Rules">Policy rules whose <c>from</c> or <c>to</c> names the trust domain or one of its IDs.</param>
/// <param name="PolicyMode"><c>enforce</c> or <c>audit</c>; null when no policy was applied.</param>
/// <param name="Gates">The agents whose gate (or Workload API) reported traffic with it, per direction.</param>
internal sealed record FederationMapView(
    string TrustDomain,
    FederationStatus Status,
    IReadOnlyList<FederationMapView.MappedEntry> Entries,
    IReadOnlyList<string> Agents,
    IReadOnlyList<FederationMapView.MappedRule> Rules,
    string? PolicyMode,
    IReadOnlyList<ObservedUse> Gates)
{
    /// <summary>An entry federating with the trust domain and the agents that may hold it.</summary>
    internal sealed record MappedEntry(string Id, string SpiffeId, string ParentId, IReadOnlyList<string> Nodes);

    /// <summary>A rule naming the trust domain: <paramref name="Sides"/> is <c>from</c>, <c>to</c> or <c>from,to</c>.</summary>
    internal sealed record MappedRule(string Name, string Action, string From, string To, string Sides);

    /// <summary>
    /// Builds the map. An entry's nodes are the agents whose SPIFFE ID is its parent, or that a
    /// node-alias entry (parent <c>spiffe://TD/anchorage/server</c>) named as its parent covers
    /// (every alias selector among the agent's selectors); deeper nesting is not followed.
    /// </summary>
    public static FederationMapView Create(
        string trustDomain,
        FederationStatus status,
        IReadOnlyList<Entry> federating,
        IReadOnlyList<Entry> aliases,
        IReadOnlyList<AgentInfo> agents,
        CommunicationPolicy? policy)
    {
        var live = agents.Where(a => !a.Banned).OrderBy(a => a.SpiffeId, StringComparer.Ordinal).ToList();
        var entries = federating
            .OrderBy(e => e.SpiffeId, StringComparer.Ordinal)
            .ThenBy(e => e.Id, StringComparer.Ordinal)
            .Select(e => new MappedEntry(e.Id, e.SpiffeId, e.ParentId, NodesOf(e, aliases, live)))
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
        return new FederationMapView(
            trustDomain,
            status,
            entries,
            status.Distributed ? [.. live.Select(a => a.SpiffeId)] : [],
            rules,
            mode,
            [.. status.Usage.OrderBy(u => u.AgentId, StringComparer.Ordinal).ThenBy(u => u.Direction, StringComparer.Ordinal).ThenBy(u => u.Listener, StringComparer.Ordinal)]);
    }

    private static bool Names(IdentityPattern pattern, TrustDomain td) => pattern switch
    {
        IdentityPattern.Exact exact => exact.Id.TrustDomain == td,
        IdentityPattern.Prefix prefix => prefix.TrustDomain == td,
        IdentityPattern.InTrustDomain inTd => inTd.TrustDomain == td,
        _ => false,
    };

    private static List<string> NodesOf(Entry entry, IReadOnlyList<Entry> aliases, List<AgentInfo> agents)
    {
        var nodes = new List<string>();
        foreach (var agent in agents)
        {
            if (string.Equals(agent.SpiffeId, entry.ParentId, StringComparison.Ordinal)
                || aliases.Any(alias => string.Equals(alias.SpiffeId, entry.ParentId, StringComparison.Ordinal)
                    && alias.Selectors.All(s => agent.Selectors.Any(n => n.Type == s.Type && n.Value == s.Value))))
            {
                nodes.Add(agent.SpiffeId);
            }
        }

        return nodes;
    }
}
