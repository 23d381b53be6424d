using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Common.V1;
using Anchorage.Server.Federation;
using FederationStatus = Anchorage.Protos.Admin.V1.FederationStatus;

namespace Anchorage.Server.Tests.Federation;

/// <summary>
/// The enforcement map's builder (issue 15 item 4) on its own: an entry's nodes through direct,
/// node-alias and nested parents (as the server's authorized-entries walk hands them out), cycles and
/// the depth bound, banned agents, the held sequence per agent, and the policy rules that name the domain.
/// </summary>
public sealed class FederationMapViewTests
{
    private const string ServerId = "spiffe://acme.corp/anchorage/server";
    private const string Peer = "payments.acme.corp";

    private static AgentInfo Agent(string path, bool banned = false, params string[] selectors)
    {
        var agent = new AgentInfo { SpiffeId = "spiffe://acme.corp/anchorage/agent/" + path, Banned = banned };
        agent.Selectors.AddRange(selectors.Select(s => new Selector { Type = s.Split(':', 2)[0], Value = s.Split(':', 2)[1] }));
        return agent;
    }

    private static Entry Entry(string id, string spiffeId, string parentId, params string[] selectors)
    {
        var entry = new Entry { Id = id, SpiffeId = spiffeId, ParentId = parentId };
        entry.Selectors.AddRange(selectors.Select(s => new Selector { Type = s.Split(':', 2)[0], Value = s.Split(':', 2)[1] }));
        return entry;
    }

    private static FederationStatus Status(bool distributed = true, ulong sequence = 5)
    {
        var status = new FederationStatus { TrustDomain = Peer, Sequence = sequence, Distributed = distributed, Approval = "approved" };
        return status;
    }

    private static readonly AgentInfo A = Agent("a", false, "k8s:cluster:blue");
    private static readonly AgentInfo B = Agent("b", false, "k8s:cluster:green");
    private static readonly AgentInfo Banned = Agent("z", true, "k8s:cluster:blue");

    [Fact]
    public void Create_DirectAliasAndNestedParents_NodesFollowedDownToTheAgents()
    {
        var alias = Entry("alias", "spiffe://acme.corp/cluster/blue", ServerId, "k8s:cluster:blue");
        var nested = Entry("mid", "spiffe://acme.corp/downstream", B.SpiffeId);
        var deeper = Entry("mid2", "spiffe://acme.corp/downstream/inner", "spiffe://acme.corp/downstream");
        Entry[] federating =
        [
            Entry("e1", "spiffe://acme.corp/direct", A.SpiffeId),
            Entry("e2", "spiffe://acme.corp/aliased", alias.SpiffeId),
            Entry("e3", "spiffe://acme.corp/nested", deeper.SpiffeId),
            Entry("e4", "spiffe://acme.corp/orphan", "spiffe://acme.corp/nobody"),
        ];

        var map = FederationMapView.Create(Peer, Status(), federating, [alias, nested, deeper], [A, B, Banned], null, ServerId);

        Assert.Equal(
            [("e1", new[] { A.SpiffeId }), ("e2", [A.SpiffeId]), ("e3", [B.SpiffeId]), ("e4", [])],
            map.Entries.OrderBy(e => e.Id).Select(e => (e.Id, e.Nodes.ToArray())));
    }

    [Fact]
    public void Create_ParentCycle_Ends_DepthBeyondEight_NotFollowed()
    {
        // x <- y <- x: a cycle with no agent at the top.
        var x = Entry("x", "spiffe://acme.corp/x", "spiffe://acme.corp/y");
        var y = Entry("y", "spiffe://acme.corp/y", "spiffe://acme.corp/x");
        // A chain of 8 entries up to agent A: the federating entry below it is level 9.
        var chain = Enumerable.Range(1, 8)
            .Select(i => Entry("c" + i, "spiffe://acme.corp/c" + i, i == 8 ? A.SpiffeId : "spiffe://acme.corp/c" + (i + 1)))
            .ToList();
        Entry[] federating =
        [
            Entry("cycle", "spiffe://acme.corp/cycle", x.SpiffeId),
            Entry("deep", "spiffe://acme.corp/deep", chain[0].SpiffeId),
            Entry("ok8", "spiffe://acme.corp/ok8", chain[1].SpiffeId),
        ];

        var map = FederationMapView.Create(Peer, Status(), federating, [x, y, .. chain], [A], null, ServerId);

        var nodes = map.Entries.ToDictionary(e => e.Id, e => e.Nodes);
        Assert.Empty(nodes["cycle"]);
        Assert.Empty(nodes["deep"]);
        // Positive control: one level less (8) reaches the agent.
        Assert.Equal([A.SpiffeId], nodes["ok8"]);
    }

    [Fact]
    public void Create_HeldSequences_PerAgent_BannedLeftOut_NotDistributed_NoAgents()
    {
        var status = Status();
        status.Held.Add(new AgentHeldBundle { AgentId = A.SpiffeId, Sequence = 4, ReportedAt = 1_700_000_000 });
        status.Held.Add(new AgentHeldBundle { AgentId = Banned.SpiffeId, Sequence = 5, ReportedAt = 1_700_000_000 });

        var map = FederationMapView.Create(Peer, status, [], [], [B, A, Banned], null, ServerId);

        Assert.Equal(
            [new FederationMapView.MappedAgent(A.SpiffeId, 4, 1_700_000_000), new FederationMapView.MappedAgent(B.SpiffeId, null, 0)],
            map.Agents);
        Assert.Empty(FederationMapView.Create(Peer, Status(distributed: false), [], [], [A, B], null, ServerId).Agents);
    }

    [Fact]
    public void Create_Policy_RulesNamingTheDomainOnly_WithTheirSides()
    {
        var policy = PolicyDocument.Parse("""
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: to-payments
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web" }
                  to: { trustDomain: payments.acme.corp }
                - name: from-payments-ledger
                  action: deny
                  from: { spiffeId: "spiffe://payments.acme.corp/ledger" }
                  to: { spiffeId: "spiffe://acme.corp/db" }
                - name: local-only
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web" }
                  to: { spiffeId: "spiffe://acme.corp/db" }
            """, "policy.yaml");
        Assert.True(policy.IsValid, string.Join("; ", policy.ErrorLines));

        var map = FederationMapView.Create(Peer, Status(), [], [], [], policy.Value, ServerId);

        Assert.Equal([("to-payments", "allow", "to"), ("from-payments-ledger", "deny", "from")], map.Rules.Select(r => (r.Name, r.Action, r.Sides)));
        Assert.Equal("enforce", map.PolicyMode);
    }
}
