using System.Globalization;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 6 item 5: changes apply at once. A narrowed policy, a removed federated bundle and a
/// revoked authority close the live connections they no longer allow (audited with the reason);
/// an SVID rotation and a policy change that still allows keep them open.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateChangeTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    private static GateEntry WebEntry(params TrustDomain[] federatesWith) =>
        new("/web", [Uid, "unix:path:" + GateClients.OwnExe], federatesWith);

    [Fact]
    public async Task LiveConnection_PolicyNarrowed_ClosedAndAudited_WhileAPolicyThatStillAllowsKeepsIt()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [WebEntry(PaymentsTd)], dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        await using var stream = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));

        // A new version that still allows the connection: it stays open.
        policy.Set(Policies.Of("v2", Policies.Allow("web-to-api-renamed", Web, Api)));
        node.Gate.Recheck(); // what the Changed handler runs; called here so the assertion follows it
        Assert.Equal("pong", await GateClients.EchoAsync(stream, "pong"));

        // Narrowed: an explicit deny for the whole trust domain.
        policy.Set(Policies.Of("v3", Policies.Allow("web-to-api", Web, Api), Policies.Deny("no-payments", new IdentityPattern.InTrustDomain(AcmeTd), new IdentityPattern.InTrustDomain(PaymentsTd))));

        Assert.True(await GateClients.ClosedAsync(stream));
        var closed = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed, "the close");
        Assert.Equal(GateReasons.PolicyChanged, closed.Reason);
        Assert.Equal(8, closed.BytesOut);
        Assert.Equal(Environment.ProcessId, closed.Process!.Pid);
        Assert.Equal(0, node.Gate.LiveConnections);

        // And new connections are decided by the narrowed policy.
        await using var next = await GateClients.ConnectUnixAsync(socket);
        Assert.True(await GateClients.ClosedAsync(next));
        var denied = await node.Audit.WaitForAsync(r => r.Decision == "deny", "the new connection's denial");
        Assert.Equal("no-payments", denied.Rule);
        Assert.Equal("v3", denied.PolicyVersion);

        // One policy record per version the gate decided with, in order.
        var versions = await WaitForPolicyVersionsAsync(node, 3);
        Assert.Equal(["v1", "v2", "v3"], versions);
    }

    private static async Task<string[]> WaitForPolicyVersionsAsync(GateNode node, int count)
    {
        await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Policy, PolicyVersion: "v3" }, "the policy records");
        var versions = node.Audit.Records.Where(r => r.Kind == AuditKinds.Policy).Select(r => r.PolicyVersion ?? "(none)").ToArray();
        Assert.Equal(count, versions.Length);
        return versions;
    }

    [Fact]
    public async Task LiveConnection_CloseOnRevokeOff_KeptOpenAndAuditedOnce()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [WebEntry(PaymentsTd)], dir => new GateOptions
        {
            CloseOnRevoke = false,
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        await using var stream = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));

        policy.Set(CompiledPolicy.DenyAll);
        node.Gate.Recheck();

        Assert.Equal("pong", await GateClients.EchoAsync(stream, "pong"));
        var stale = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the stale connection");
        Assert.Equal(GateReasons.PolicyChanged, stale.Reason);
        Assert.Equal("kept open: closeOnRevoke is false", stale.Detail);
        Assert.Single(node.Audit.Records, r => r is { Kind: AuditKinds.Connection, Decision: "deny" });
    }

    [Fact]
    public async Task LiveConnection_FederatedBundleRemoved_ClosedAndAudited_BundleRecordWritten()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [WebEntry(PaymentsTd)], dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        var added = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Bundle, Decision: "added", TrustDomain: "payments.acme.corp" }, "the payments bundle added");
        Assert.NotNull(added.Sequence);
        Assert.NotEmpty(added.AuthoritiesAdded!);
        await using var stream = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));

        await domains.Acme.Admin.DeleteFederationAsync(new DeleteFederationRequest { TrustDomain = PaymentsTd.Name });

        Assert.True(await GateClients.ClosedAsync(stream));
        var closed = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed, "the close");
        Assert.Equal(GateReasons.BundleRemoved, closed.Reason);
        var removed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Bundle, Decision: "removed" }, "the bundle removal");
        Assert.Equal(PaymentsTd.Name, removed.TrustDomain);
    }

    [Fact]
    public async Task LiveConnection_SvidRotationKeepsIt_PeerAuthorityRevokedClosesIt()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [WebEntry(PaymentsTd)], dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        await using var stream = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        var before = await OwnSvidAsync(node);

        // Rotation of the caller's SVID: a new acme.corp authority, activated, the old one tainted,
        // so the agent re-issues every workload SVID (and the acme bundle changes on the way).
        await domains.Acme.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });

        // As an operator would: activate once the remote side trusts the prepared authority.
        await UntilAsync(() => service.BundleFor(AcmeTd)?.Authorities.Length == 2, "the prepared acme.corp authority to reach the remote service");
        await domains.Acme.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await domains.Acme.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await UntilAsync(() => OwnSvidAsync(node).GetAwaiter().GetResult().Leaf.Thumbprint != before.Leaf.Thumbprint, "the caller's re-issued svid");
        node.Gate.Recheck();

        Assert.DoesNotContain(node.Audit.Records, r => r.Kind == AuditKinds.ConnectionClosed);
        Assert.Equal("pong", await GateClients.EchoAsync(stream, "pong")); // still open after rotation

        await using (var fresh = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("new", await GateClients.EchoAsync(fresh, "new")); // new connections present the new svid
        }

        // Revocation of the authority that signed the remote service's SVID (payments.acme.corp):
        // federation brings the narrower bundle to acme.corp's agent; the live peer chain no longer verifies.
        var payments = domains.Payments.Admin;
        await payments.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await node.Audit.WaitForAsync(
            r => r is { Kind: AuditKinds.Bundle, Decision: "updated", TrustDomain: "payments.acme.corp" } && r.AuthoritiesAdded is not null, "the prepared payments authority");
        await payments.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await payments.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await payments.RevokeAuthorityAsync(new AuthorityRequest { Kind = "x509" });

        var updated = await node.Audit.WaitForAsync(
            r => r is { Kind: AuditKinds.Bundle, Decision: "updated", TrustDomain: "payments.acme.corp" } && r.AuthoritiesRemoved is not null, "the payments bundle update");
        Assert.NotNull(updated.Sequence);
        var closed = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed && r.Reason is not null, "the close");
        Assert.Equal(GateReasons.AuthorityRevoked, closed.Reason);
        Assert.Equal(Api.ToString(), closed.PeerSpiffeId);
        Assert.True(await GateClients.ClosedAsync(stream));
    }

    private static async Task<Anchorage.Spiffe.Svids.X509Svid> OwnSvidAsync(GateNode node)
    {
        using var peer = PeerCredentialsReader.FromProcessId(Environment.ProcessId);
        var attestation = await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None);
        return node.Agent.Agent.Cache.Resolve("test", attestation.Selectors)!.X509Svids[0];
    }
}
