using System.Globalization;
using System.Text.Json;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 15 item 5, second half: <c>spec.mode: audit</c> makes the gate decide, record
/// <c>would-deny</c> and let the bytes through; the same rules enforced refuse the connection.
/// Real servers of two federated trust domains, a real agent and gate, policies read from YAML.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateShadowModeTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    // Denies the only caller (web) its only peer (payments' api) with a named rule.
    private static CompiledPolicy Narrowed(string mode, string version)
    {
        var yaml = $$"""
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: narrowed }
            spec:
              mode: {{mode}}
              rules:
                - name: no-payments
                  action: deny
                  from: { trustDomain: acme.corp }
                  to:   { trustDomain: payments.acme.corp }
            """;
        var parsed = PolicyDocument.Parse(yaml, "narrowed.yaml");
        Assert.Empty(parsed.ErrorLines);
        return CompiledPolicy.Compile(parsed.Value!, version);
    }

    [Fact]
    public async Task Outbound_AuditMode_DenyingPolicyPassesTheBytesAndRecordsWouldDeny_EnforceRefuses()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Narrowed("enforce", "v1"));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)], dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);

        // Positive control: enforced, the rule refuses the caller before the target is dialed.
        await using (var refused = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.True(await GateClients.ClosedAsync(refused));
        }

        var denied = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the enforced denial");
        Assert.Equal((GateReasons.Policy, "no-payments", "v1"), (denied.Reason, denied.Rule, denied.PolicyVersion));
        Assert.Equal(0, remote.Accepted);

        // The same rules in audit mode: decided the same, recorded as would-deny, the bytes pass.
        policy.Set(Narrowed("audit", "v2"));
        await using (var shadowed = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(shadowed, "ping"));
        }

        Assert.Equal([Web], remote.Peers);
        var wouldDeny = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "would-deny" }, "the shadow decision");
        Assert.Equal(("no-payments", "v2", Web.ToString(), Api.ToString()), (wouldDeny.Rule, wouldDeny.PolicyVersion, wouldDeny.SpiffeId, wouldDeny.PeerSpiffeId));
        Assert.Equal(Environment.ProcessId, wouldDeny.Process!.Pid);
        Assert.Null(wouldDeny.Reason);
        var closed = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed && r.ConnectionId == wouldDeny.ConnectionId, "the shadowed connection's end");
        Assert.Equal((4L, 4L), (closed.BytesOut, closed.BytesIn));
        Assert.DoesNotContain(node.Audit.Records, r => r.Decision == "allow");
        var inForce = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Policy, PolicyVersion: "v2" }, "the audit-mode policy in force");
        Assert.Equal("policy narrowed: 1 rules, mode audit (denials recorded as would-deny, not refused)", inForce.Detail);

        // A shadowed live connection does not outlive enforcement: the same rules enforced close it.
        await using var live = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("pong", await GateClients.EchoAsync(live, "pong"));
        policy.Set(Narrowed("enforce", "v3"));
        Assert.True(await GateClients.ClosedAsync(live));
        var ended = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed && r.Reason == GateReasons.PolicyChanged, "the close by enforcement");
        Assert.Equal(Environment.ProcessId, ended.Process!.Pid);

        // The real audit file (stops the gate) says the same: two connections passed as would-deny.
        var lines = (await node.AuditFileLinesAsync()).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("decision", out var d) && d.GetString() == "would-deny").ToArray();
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal("no-payments", l.GetProperty("rule").GetString()));
    }
}
