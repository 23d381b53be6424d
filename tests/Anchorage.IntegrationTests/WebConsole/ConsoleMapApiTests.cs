using System.Text.Json;
using System.Text.Json.Nodes;
using Anchorage.Agent.Node;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Protos.Admin.V1;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.WebConsole;

/// <summary>
/// The relationship page's API (issue 16 item 2) on two real domains with real SQLite: the
/// enforcement map of <c>federation map</c> served by the console (the same builder), with an entry
/// federating with the peer under a real agent, that agent holding the peer's bundle, the policy
/// rules naming the peer and the traffic the agent reported.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ConsoleMapApiTests
{
    internal const string Policy = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: billing-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/billing" }
              to: { trustDomain: payments.acme.corp }
            - name: billing-to-db
              action: allow
              from: { spiffeId: "spiffe://acme.corp/billing" }
              to: { spiffeId: "spiffe://acme.corp/db" }
        """;

    [Fact]
    public async Task Api_Federation_MapOfEntryAgentRulesAndGates_SameAsCliMap()
    {
        await using var domains = await TwoDomains.StartAsync(configureAcme: ConsoleApiTests.WithConsole);
        var payments = TwoDomains.PaymentsTd;
        await domains.ApplyAsync(domains.Acme, payments, domains.Payments);
        var (token, agentId) = await TestAgent.TokenAsync(domains.Acme);
        await using var agent = await TestAgent.StartAsync(domains.Acme, token);
        await NodeParts.EntryAsync(domains.Acme, agentId, "/billing", ["unix:uid:1000"], [payments]);
        var policyFile = Path.Combine(domains.Dir.Path, "policy.yaml");
        await File.WriteAllTextAsync(policyFile, Policy);
        Assert.Equal(0, (await domains.Acme.CliAsync("policy", "apply", "-f", policyFile)).ExitCode);
        // What the agent's Workload API records when it validates a payments JWT-SVID; the agent reports it at its next sync.
        agent.Agent.Usage!.Record(payments, "inbound", allowed: true, UsageRecorder.WorkloadApiListener);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(domains.Acme);
        var sequence = (await domains.Acme.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = payments.Name })).Sequence;

        var page = default(JsonElement);
        await Eventually.TrueAsync(
            async () =>
            {
                page = await client.JsonAsync(baseUrl, "/api/federations/" + payments.Name);
                var map = page.GetProperty("map");
                // Flags change with the first fetch ("never-fetched" goes): compared with the CLI's
                // below, so both are read after it (a fresh-clone CI run read the console before it).
                return map.GetProperty("gates").GetArrayLength() == 1
                    && map.GetProperty("bundle").GetProperty("agents").EnumerateArray().Any(a => a.GetProperty("heldSequence").ValueKind == JsonValueKind.Number)
                    && !map.GetProperty("flags").EnumerateArray().Any(f => f.GetString() == "never-fetched");
            },
            () => "the map to show the agent holding the bundle, its reported traffic and a first fetch: " + page);
        var cli = await domains.Acme.CliAsync("federation", "map", payments.Name, "--output", "json");

        var map = page.GetProperty("map");
        Assert.Equal(payments.Name, map.GetProperty("trustDomain").GetString());
        Assert.Equal("approved", page.GetProperty("federation").GetProperty("edgeState").GetString());
        var bundle = map.GetProperty("bundle");
        Assert.Equal((sequence, "approved", true), (bundle.GetProperty("sequence").GetUInt64(), bundle.GetProperty("approval").GetString(), bundle.GetProperty("distributed").GetBoolean()));
        var held = Assert.Single(bundle.GetProperty("agents").EnumerateArray());
        Assert.Equal((agentId.ToString(), sequence), (held.GetProperty("agentId").GetString(), held.GetProperty("heldSequence").GetUInt64()));
        var entry = Assert.Single(map.GetProperty("entries").EnumerateArray());
        Assert.Equal(("spiffe://acme.corp/billing", agentId.ToString()), (entry.GetProperty("spiffeId").GetString(), entry.GetProperty("parentId").GetString()));
        Assert.Equal([agentId.ToString()], entry.GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal("enforce", map.GetProperty("policy").GetProperty("mode").GetString());
        // Only the rule that names payments; the local one is left out.
        var rule = Assert.Single(map.GetProperty("policy").GetProperty("rules").EnumerateArray());
        Assert.Equal(("billing-to-payments", "allow", "to"), (rule.GetProperty("name").GetString(), rule.GetProperty("action").GetString(), rule.GetProperty("mentions").GetString()));
        var gate = Assert.Single(map.GetProperty("gates").EnumerateArray());
        Assert.Equal(
            (agentId.ToString(), "inbound", "workload-api", 1L, 0L),
            (gate.GetProperty("agentId").GetString(), gate.GetProperty("direction").GetString(), gate.GetProperty("listener").GetString(), gate.GetProperty("allowed").GetInt64(), gate.GetProperty("denied").GetInt64()));

        // The console's map is the CLI's map: same builder, same JSON (reportedAt aside: the agent reports again each sync).
        Assert.True(cli.ExitCode == 0, cli.Error);
        var fromCli = JsonNode.Parse(cli.Out)!.AsObject();
        var fromConsole = JsonNode.Parse(map.GetRawText())!.AsObject();
        foreach (var key in new[] { "trustDomain", "entries", "policy", "gates", "flags" })
        {
            Assert.True(JsonNode.DeepEquals(fromCli[key], fromConsole[key]), $"{key}: cli {fromCli[key]} console {fromConsole[key]}");
        }

        // The status as `federation show` has it is on the same answer.
        Assert.Equal("platform@acme.corp", page.GetProperty("federation").GetProperty("status").GetProperty("owner").GetString());
    }

    [Fact]
    public async Task Api_Federation_PendingRelationship_NoAgentReceivesNoPolicy()
    {
        await using var domains = await TwoDomains.StartAsync(configureAcme: ConsoleApiTests.WithConsole);
        var payments = TwoDomains.PaymentsTd;
        await domains.ApplyAsync(domains.Acme, payments, domains.Payments, approve: false);
        var (token, agentId) = await TestAgent.TokenAsync(domains.Acme);
        await using var agent = await TestAgent.StartAsync(domains.Acme, token);
        await NodeParts.EntryAsync(domains.Acme, agentId, "/billing", ["unix:uid:1000"], [payments]);
        using var client = new ConsoleClient();
        var baseUrl = await client.LoginAsync(domains.Acme);

        var map = (await client.JsonAsync(baseUrl, "/api/federations/" + payments.Name)).GetProperty("map");

        // Not approved: the bundle goes to no agent, though the entry and its node are mapped.
        Assert.False(map.GetProperty("bundle").GetProperty("distributed").GetBoolean());
        Assert.Equal(0, map.GetProperty("bundle").GetProperty("agents").GetArrayLength());
        Assert.Equal([agentId.ToString()], Assert.Single(map.GetProperty("entries").EnumerateArray()).GetProperty("nodes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(JsonValueKind.Null, map.GetProperty("policy").ValueKind);
        Assert.Equal(0, map.GetProperty("gates").GetArrayLength());
    }
}
