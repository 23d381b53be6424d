using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Policy;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 6 items 2, 3 and 7: the gate attributes every connection to its own process, presents
/// that process's SVID, decides by policy, verifies federated peers with their own trust
/// domain's bundle, and audits all of it. Real servers of two federated trust domains and real
/// agents, in-process; rogue callers are other executables (python, node) or another uid.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateScenarioTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Batch = SpiffeId.Parse("spiffe://acme.corp/batch");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    // The test host gets /web; python (same uid) gets /batch; node and other uids get nothing.
    private static GateEntry[] AcmeEntries =>
    [
        new("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd),
        new("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd),
    ];

    [Fact]
    public async Task Outbound_ProxyInheritance_OwnProcessAllowedWithItsId_OtherExecutablesDeniedAndAudited()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-payments", Web, Api, remote.Port)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, AcmeEntries, dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);

        // The legitimate caller: this process, through the shared listener, with its own SVID.
        await using (var stream = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        Assert.Equal([Web], remote.Peers);

        // Through the very same listener: python has an identity (/batch) that the policy does not allow...
        var (pythonPid, pythonGot) = await GateClients.PythonAsync("unix:" + socket);

        // ...and node has no identity at all.
        var (nodePid, nodeGot) = await GateClients.NodeAsync("unix:" + socket);

        Assert.Equal("0", pythonGot);
        Assert.Equal("0", nodeGot);
        Assert.Equal(1, remote.Accepted); // the remote service never saw a connection from either
        var audit = node.Audit;
        var allowed = await audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the allowed connection");
        Assert.Equal(Environment.ProcessId, allowed.Process!.Pid);
        Assert.Equal(GateClients.OwnExe, allowed.Process.Exe);
        Assert.Equal(64, allowed.Process.Sha256!.Length);
        Assert.Equal(Web.ToString(), allowed.SpiffeId);
        Assert.Equal(Api.ToString(), allowed.PeerSpiffeId);
        Assert.Equal(PaymentsTd.Name, allowed.PeerTrustDomain);
        Assert.Equal("web-to-payments", allowed.Rule);
        Assert.Equal("v1", allowed.PolicyVersion);
        Assert.NotNull(allowed.BundleSequence);
        var closed = await audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed && r.ConnectionId == allowed.ConnectionId, "the end of the allowed connection");
        Assert.Equal(4, closed.BytesOut);
        Assert.Equal(4, closed.BytesIn);
        Assert.NotNull(closed.DurationMs);
        Assert.Null(closed.Reason);

        var python = await audit.WaitForAsync(r => r.Decision == "deny" && r.Process?.Pid == pythonPid, "python's denial");
        Assert.Equal(GateReasons.Policy, python.Reason);
        Assert.Equal(PolicyDecision.DefaultRule, python.Rule);
        Assert.Equal(GateClients.PythonExe, python.Process!.Exe);
        Assert.Equal(Batch.ToString(), python.SpiffeId);

        var rogue = await audit.WaitForAsync(r => r.Decision == "deny" && r.Process?.Pid == nodePid, "node's denial");
        Assert.Equal(GateReasons.Unattested, rogue.Reason);
        Assert.Equal("/usr/bin/node", rogue.Process!.Exe);
        Assert.Null(rogue.SpiffeId);
        Assert.Equal(2, audit.Records.Count(r => r.Decision == "deny"));

        // The same in the real audit file: JSON lines with the process of each denied caller.
        var lines = await node.AuditFileLinesAsync();
        var denials = lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.TryGetProperty("decision", out var d) && d.GetString() == "deny").ToArray();
        Assert.Equal(2, denials.Length);
        var nodeLine = Assert.Single(denials, e => e.GetProperty("process").GetProperty("pid").GetInt32() == nodePid);
        Assert.Equal("/usr/bin/node", nodeLine.GetProperty("process").GetProperty("exe").GetString());
        Assert.Equal("unattested", nodeLine.GetProperty("reason").GetString());
        var pythonLine = Assert.Single(denials, e => e.GetProperty("process").GetProperty("pid").GetInt32() == pythonPid);
        Assert.Equal(GateClients.PythonExe, pythonLine.GetProperty("process").GetProperty("exe").GetString());
        Assert.Equal("policy", pythonLine.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Outbound_TcpLoopback_AttributesEachCallerToItsOwnProcess()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-payments", Web, Api, remote.Port)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, AcmeEntries, _ => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.TcpAt(new HostPort("127.0.0.1", 0)), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);
        var endpoint = (IPEndPoint)node.Gate.Endpoints["payments"];

        // Twice: the second time the caller is found among the recent owners, without a full /proc scan.
        for (var i = 0; i < 2; i++)
        {
            await using var stream = await GateClients.ConnectTcpAsync(endpoint);
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        var (pythonPid, pythonGot) = await GateClients.PythonAsync("tcp:" + endpoint.Port.ToString(CultureInfo.InvariantCulture));

        Assert.Equal("0", pythonGot);
        Assert.Equal([Web, Web], remote.Peers);
        Assert.Equal(2, remote.Accepted);
        var allowed = node.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }).ToArray();
        Assert.Equal(2, allowed.Length);
        Assert.All(allowed, r => Assert.Equal(Environment.ProcessId, r.Process!.Pid));
        var denied = await node.Audit.WaitForAsync(r => r.Decision == "deny", "python's denial");
        Assert.Equal(pythonPid, denied.Process!.Pid);
        Assert.Equal(GateReasons.Policy, denied.Reason);
        Assert.Equal(Batch.ToString(), denied.SpiffeId);
    }

    [RootFact(setpriv: true)]
    public async Task Outbound_OtherUidThroughTheSameListener_DeniedUnattested_AuditedWithItsUid()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;

        // Positive control: the rule allows every acme.corp ID, so only the identity decides.
        var anyAcme = new PolicyRule("acme-to-payments", PolicyAction.Allow, new FromMatch(new IdentityPattern.InTrustDomain(AcmeTd), []), new ToMatch(new IdentityPattern.Exact(Api), null));
        var policy = new MutablePolicySource(Policies.Of("v1", anyAcme));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, AcmeEntries, dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);

        // python as this uid has /batch and is allowed; the same python as uid 65534 has no identity.
        var (_, allowedGot) = await GateClients.PythonAsync("unix:" + socket);
        var (nobodyPid, nobodyGot) = await GateClients.PythonAsync("unix:" + socket, asNobody: true);

        Assert.Equal("19", allowedGot); // echoed back
        Assert.Equal("0", nobodyGot);
        Assert.Equal([Batch], remote.Peers);
        Assert.Equal(1, remote.Accepted);
        var denied = await node.Audit.WaitForAsync(r => r.Decision == "deny", "the other uid's denial");
        Assert.Equal(GateReasons.Unattested, denied.Reason);
        Assert.Equal(nobodyPid, denied.Process!.Pid);
        Assert.Equal(65534u, denied.Process.Uid);
        Assert.Equal(GateClients.PythonExe, denied.Process.Exe);
    }

    [Fact]
    public async Task Outbound_PeerTrustDomain_FederatedPeerVerifiesButPolicyDenies_ThenAllowedOnceThePolicySaysSo()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        var other = SpiffeId.Parse("spiffe://payments.acme.corp/other");
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-other", Web, other)));
        string socket = null!;
        await using var node = await GateNode.StartAsync(domains, AcmeTd, AcmeEntries, dir => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), PeerTrustDomain = PaymentsTd }],
        }, policy);

        await using (var denied = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.True(await GateClients.ClosedAsync(denied));
        }

        var record = await node.Audit.WaitForAsync(r => r.Decision == "deny", "the policy denial");
        Assert.Equal(GateReasons.Policy, record.Reason);
        Assert.Equal(Api.ToString(), record.PeerSpiffeId); // verified before the policy decided
        Assert.Equal(PaymentsTd.Name, record.PeerTrustDomain);
        Assert.Equal(Web.ToString(), record.SpiffeId);

        // Positive control: the same call once a rule names the peer.
        policy.Set(Policies.Of("v2", Policies.Allow("web-to-api", Web, Api)));
        await using var allowed = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(allowed, "ping"));
        Assert.Equal("v2", (await node.Audit.WaitForAsync(r => r.Decision == "allow", "the allowed call")).PolicyVersion);
    }

    [Fact]
    public async Task Outbound_PeerIsNotTheConfiguredId_RefusedAsPeerVerification()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        var other = SpiffeId.Parse("spiffe://payments.acme.corp/other");
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-other", Web, other), Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, AcmeEntries, _ => new GateOptions
        {
            Outbound =
            [
                new GateOutboundOptions { Name = "other", Listen = GateListenAddress.TcpAt(new HostPort("127.0.0.1", 0)), Target = new HostPort("127.0.0.1", remote.Port), Peer = other },
                new GateOutboundOptions { Name = "api", Listen = GateListenAddress.TcpAt(new HostPort("127.0.0.1", 0)), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api },
            ],
        }, policy);

        await using (var refused = await GateClients.ConnectTcpAsync(node.Gate.Endpoints["other"]))
        {
            Assert.True(await GateClients.ClosedAsync(refused));
        }

        var record = await node.Audit.WaitForAsync(r => r.Decision == "deny", "the refusal");
        Assert.Equal(GateReasons.PeerVerification, record.Reason);
        Assert.Equal($"peer {Api} is not the expected peer", record.Detail);

        // Positive control: the listener that expects /api.
        await using var stream = await GateClients.ConnectTcpAsync(node.Gate.Endpoints["api"]);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
    }

    [Fact]
    public async Task Inbound_FederatedClientWithValidSvidAccepted_UnknownTrustDomainRefused()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var client = await domains.WorkloadAsync(AcmeTd, "/web", PaymentsTd);
        await using var app = new PlainEchoServer();
        await using var node = await GateNode.StartInboundApiAsync(domains, app);
        var endpoint = (IPEndPoint)node.Gate.Endpoints["api"];

        // A federated client with a valid SVID: the gate presents the local app's SVID (/api) and forwards.
        await using (var tls = await DialAsync(endpoint, SpiffeTls.MtlsClient(client.Source, client.Source, Authorizer.Exact(Api))))
        {
            Assert.Equal(Api, SpiffeTls.PeerId(tls));
            Assert.Equal("ping", await GateClients.EchoAsync(tls, "ping"));
        }

        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the inbound allow");
        Assert.Equal("inbound", allowed.Direction);
        Assert.Equal(Web.ToString(), allowed.PeerSpiffeId);
        Assert.Equal(AcmeTd.Name, allowed.PeerTrustDomain);
        Assert.Equal(Api.ToString(), allowed.SpiffeId);
        Assert.Equal(Environment.ProcessId, allowed.Process!.Pid); // the process listening on the forward address
        Assert.Equal(1, app.Accepted);

        // A client of a trust domain the gate has no bundle for.
        var foreign = ForeignSvid("evil.corp", "/web");
        try
        {
            // TLS 1.3: the client may finish before the server judges its certificate; the gate then closes.
            await using var tls = await DialAsync(endpoint, SpiffeTls.MtlsClient(foreign, client.Source, Authorizer.Exact(Api)));
            Assert.True(await GateClients.ClosedAsync(tls));
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            // Or the gate's alert arrives during the handshake.
        }

        var refused = await node.Audit.WaitForAsync(r => r is { Decision: "deny" }, "the foreign client's refusal");
        Assert.Equal(GateReasons.PeerVerification, refused.Reason);
        Assert.Equal("no X.509 bundle for trust domain \"evil.corp\"", refused.Detail);
        Assert.Equal(1, app.Accepted);
    }

    [Fact]
    public async Task Inbound_NothingListensOnForward_RefusedAndAudited()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var client = await domains.WorkloadAsync(AcmeTd, "/web", PaymentsTd);
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var unusedPort = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(
            domains,
            PaymentsTd,
            [new GateEntry("/api", [Uid, "unix:path:" + GateClients.OwnExe], AcmeTd)],
            _ => new GateOptions { Inbound = [new GateInboundOptions { Name = "api", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", unusedPort) }] },
            policy);

        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(node.Gate.Endpoints["api"]);
        await using var stream = new NetworkStream(socket);
        Assert.True(await GateClients.ClosedAsync(stream));

        var refused = await node.Audit.WaitForAsync(r => r.Decision == "deny", "the refusal");
        Assert.Equal(GateReasons.NoListener, refused.Reason);
        Assert.Equal($"no process listens on 127.0.0.1:{unusedPort.ToString(CultureInfo.InvariantCulture)}", refused.Detail);
    }

    internal static async Task<SslStream> DialAsync(EndPoint endpoint, SslClientAuthenticationOptions options)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await tls.AuthenticateAsClientAsync(options, timeout.Token);
        return tls;
    }

    /// <summary>An SVID of a trust domain no one federates with: its own root CA signs the leaf.</summary>
    private static X509Svid ForeignSvid(string trustDomain, string path)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=evil root", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));

        var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest("CN=evil", leafKey, HashAlgorithmName.SHA256);
        leafRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        leafRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri($"spiffe://{trustDomain}{path}"));
        leafRequest.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7F;
        var leaf = leafRequest.Create(ca, now.AddMinutes(-5), now.AddMinutes(30), serial);
        return new X509Svid([leaf], leafKey);
    }
}
