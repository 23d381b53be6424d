using System.Globalization;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Observed use (issue 15 item 3) from real gate traffic: the agent counts what its gate allowed
/// and denied per federated trust domain and direction, reports it at its next sync over the agent
/// API, and the server shows the totals in <c>federation show</c> and <c>inventory</c>.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateObservedUseTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Outbound_AllowedAndDeniedConnections_CountedPerTrustDomainAndShownByTheServer()
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

        // Before any traffic: nothing reported.
        var before = await domains.Acme.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = PaymentsTd.Name });
        Assert.Empty(before.Usage);

        for (var i = 0; i < 2; i++)
        {
            await using var stream = await GateClients.ConnectUnixAsync(socket);
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        policy.Set(Policies.Of("v2"));
        await using (var refused = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.True(await GateClients.ClosedAsync(refused));
        }

        await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the denial");
        await node.Agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);

        var status = await domains.Acme.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = PaymentsTd.Name });
        var use = Assert.Single(status.Usage);
        Assert.Equal((agentId, "outbound", "payments", 2L, 1L), (use.AgentId, use.Direction, use.Listener, use.Allowed, use.Denied));
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(use.LastAllowed, now - 120, now + 1);
        Assert.InRange(use.LastDenied, use.LastAllowed, now + 1);
        Assert.DoesNotContain("unused", status.Flags);

        // A second report adds to the totals (the agent sent only what was new).
        await using (var again = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.True(await GateClients.ClosedAsync(again));
        }

        await TwoDomains.UntilAsync(() => node.Audit.Records.Count(r => r.Decision == "deny") == 2, "the second denial");
        await node.Agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        var after = Assert.Single((await domains.Acme.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = PaymentsTd.Name })).Usage);
        Assert.Equal((2L, 2L), (after.Allowed, after.Denied));

        // Shown by the CLI as the operator reads it.
        var shown = await domains.Acme.CliAsync("federation", "show", PaymentsTd.Name);
        var line = Assert.Single(shown.Out.Split('\n'), l => l.StartsWith("outbound connections:", StringComparison.Ordinal));
        Assert.Contains("2 allowed (last ", line, StringComparison.Ordinal);
        Assert.EndsWith(", 1 agent(s)", line.TrimEnd(), StringComparison.Ordinal);
        var inventory = await domains.Acme.CliAsync("inventory");
        Assert.True(inventory.Out.Split('\n').Any(l => l.Contains("│ " + PaymentsTd.Name + " ", StringComparison.Ordinal) && l.Contains("│ 2/2 ", StringComparison.Ordinal)), inventory.Out);
    }

    [Fact]
    public async Task Inbound_FederatedJwtSvidValidatedThroughTheWorkloadApi_CountedUnderWorkloadApi_ARejectedOneNot()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var acme = await domains.WorkloadAsync(AcmeTd, "/orders", PaymentsTd);
        await TwoDomains.UntilAsync(() => acme.Has(PaymentsTd), "payments' bundle at the acme workload");
        var minted = await domains.Payments.Admin.MintJwtSvidAsync(new MintJwtSvidRequest { SpiffeId = Api.ToString(), Audience = { "orders" } });

        var validated = await acme.Client.ValidateJwtSvidAsync(minted.Token, "orders");
        await Assert.ThrowsAnyAsync<Exception>(() => acme.Client.ValidateJwtSvidAsync(minted.Token, "someone-else"));
        await acme.Agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(Api, validated.Id);
        var status = await domains.Acme.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = PaymentsTd.Name });
        var use = Assert.Single(status.Usage);
        Assert.Equal(
            (acme.Agent.Agent.Session.AgentId.ToString(), "inbound", "workload-api", 1L, 0L),
            (use.AgentId, use.Direction, use.Listener, use.Allowed, use.Denied));
    }
}
