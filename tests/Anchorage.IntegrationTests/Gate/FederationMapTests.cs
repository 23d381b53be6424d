using System.Globalization;
using System.Text.Json;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// <c>anchorage federation map TD</c> (issue 15 item 4) on two real domains: the entry federating with
/// the peer and the node it runs on, the agents receiving the peer's bundle with the sequence each reports holding,
/// the server policy's rules that name the peer (and not the one that does not), and the gate that
/// allowed and refused real connections to it; table, JSON and a Mermaid graph.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationMapTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Map_AfterRealGateTraffic_EntriesNodesRulesAndGates()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)], dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        var agentId = node.Agent.Agent.Session.AgentId.ToString();

        // The server's policy: two rules name the peer (its ID, its trust domain), one does not.
        var policyFile = Path.Combine(domains.Dir.Path, "policy.yaml");
        await File.WriteAllTextAsync(policyFile, """
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: web-to-api
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web" }
                  to: { spiffeId: "spiffe://payments.acme.corp/api" }
                - name: no-payments-admin
                  action: deny
                  from: { trustDomain: payments.acme.corp }
                  to: { spiffeId: "spiffe://acme.corp/admin" }
                - name: web-to-db
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web" }
                  to: { spiffeId: "spiffe://acme.corp/db" }
            """);
        Assert.Equal(0, (await domains.Acme.CliAsync("policy", "apply", "-f", policyFile)).ExitCode);

        await using (var stream = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        policy.Set(Policies.Of("v2"));
        await using (var refused = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.True(await GateClients.ClosedAsync(refused));
        }

        await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the denial");
        await node.Agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);

        var json = await domains.Acme.CliAsync("federation", "map", PaymentsTd.Name, "--output", "json");

        Assert.True(json.ExitCode == 0, json.Error);
        using var document = JsonDocument.Parse(json.Out);
        var root = document.RootElement;
        Assert.Equal(PaymentsTd.Name, root.GetProperty("trustDomain").GetString());
        var status = await domains.Acme.Admin.GetFederationAsync(new Protos.Admin.V1.GetFederationRequest { TrustDomain = PaymentsTd.Name });
        Assert.Equal(status.Sequence, root.GetProperty("bundle").GetProperty("sequence").GetUInt64());
        Assert.True(root.GetProperty("bundle").GetProperty("distributed").GetBoolean());
        // The agent reported the sequence it holds at its sync: the one the server serves.
        var held = Assert.Single(root.GetProperty("bundle").GetProperty("agents").EnumerateArray(), a => a.GetProperty("agentId").GetString() == agentId);
        Assert.Equal(status.Sequence, held.GetProperty("heldSequence").GetUInt64());
        Assert.NotEqual(JsonValueKind.Null, held.GetProperty("reportedAt").ValueKind);
        var entry = Assert.Single(root.GetProperty("entries").EnumerateArray());
        Assert.Equal((Web.ToString(), agentId), (entry.GetProperty("spiffeId").GetString(), entry.GetProperty("parentId").GetString()));
        Assert.Equal([agentId], Strings(entry.GetProperty("nodes")));
        Assert.Equal("enforce", root.GetProperty("policy").GetProperty("mode").GetString());
        Assert.Equal(
            [("web-to-api", "allow", "to"), ("no-payments-admin", "deny", "from")],
            root.GetProperty("policy").GetProperty("rules").EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("action").GetString(), r.GetProperty("mentions").GetString())));
        var gate = Assert.Single(root.GetProperty("gates").EnumerateArray());
        Assert.Equal(
            (agentId, "payments", "outbound", 1L, 1L),
            (gate.GetProperty("agentId").GetString(), gate.GetProperty("listener").GetString(), gate.GetProperty("direction").GetString(), gate.GetProperty("allowed").GetInt64(), gate.GetProperty("denied").GetInt64()));

        var table = await domains.Acme.CliAsync("federation", "map", PaymentsTd.Name);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("web-to-api", table.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("web-to-db", table.Out, StringComparison.Ordinal);
        Assert.Contains(table.Out.Split('\n'), l => l.Contains(agentId, StringComparison.Ordinal)
            && l.Split([' ', '│', '|'], StringSplitOptions.RemoveEmptyEntries).Contains(status.Sequence.ToString(CultureInfo.InvariantCulture)));

        var mermaid = await domains.Acme.CliAsync("federation", "map", PaymentsTd.Name, "--output", "mermaid");
        Assert.Equal(0, mermaid.ExitCode);
        var lines = mermaid.Out.Split('\n');
        Assert.Equal("graph LR", lines[0]);
        Assert.Contains(lines, l => l.Contains("-->|\"federatesWith\"| payments_acme_corp", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("==>|\"outbound at payments: 1 allowed, 1 denied\"| payments_acme_corp", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("-.->|\"from\"| payments_acme_corp", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains($"payments_acme_corp -.->|\"holds seq {status.Sequence}\"|", StringComparison.Ordinal));

        // Negative control: a trust domain without a relationship has no map.
        var none = await domains.Acme.CliAsync("federation", "map", "nobody.example");
        Assert.Equal((1, "error: no federation relationship with trust domain \"nobody.example\"\n"), (none.ExitCode, none.Error));
    }

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];
}
