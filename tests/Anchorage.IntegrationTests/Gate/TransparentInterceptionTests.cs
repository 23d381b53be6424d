using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Kernel;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;
using Anchorage.Testing.Sockets;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 10 item 3, in the real kernel: an unmodified plain-text client in an enrolled cgroup
/// connects to the real address of a service; the cgroup's connect4 program redirects it to the
/// gate, which dials the original destination with mTLS presenting the client's own SVID. The
/// same fixture tries what must not pass or must stay untouched: a client without an identity,
/// a destination outside the configuration, a process outside the cgroup, and the agent down in
/// either fail mode.
/// </summary>
[Trait("Category", "Slow")]
public sealed class TransparentInterceptionTests
{
    private static readonly SpiffeId Batch = SpiffeId.Parse("spiffe://acme.corp/batch");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [RootFact(setpriv: true)]
    public async Task UnmodifiedClientInCgroup_UpgradedWithItsOwnSvid_NoIdentityRefused_OthersUntouched()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        await using var plain = new PlainEchoServer();
        using var cgroup = TransparentCgroup.Create();
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("batch-to-api", Batch, Api, remote.Port)));
        await using var node = await GateNode.StartAsync(
            domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, remote.Port, TransparentFailMode.Open, null), policy);

        // The unmodified client: plain text to the service's real address; the service sees mTLS from /batch.
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(remote.Port));
        Assert.Equal([Batch], remote.Peers);
        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the transparent allow");
        Assert.Equal("outbound", allowed.Direction);
        Assert.Equal("payments", allowed.Listener);
        Assert.Equal("127.0.0.1:" + remote.Port.ToString(CultureInfo.InvariantCulture), allowed.Remote);
        Assert.Equal(Batch.ToString(), allowed.SpiffeId);
        Assert.Equal(GateClients.PythonExe, allowed.Process!.Exe);

        // The same client as uid 65534 has no identity: refused, the service never sees it.
        Assert.Equal("0", await cgroup.ClientAsync(remote.Port, asNobody: true));
        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the refusal of uid 65534");
        Assert.Equal(GateReasons.Unattested, refused.Reason);
        Assert.Equal(1, remote.Accepted);

        // A destination outside the configuration: reached directly, in plain text, no audit record.
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain.Port));
        Assert.Equal(1, plain.Accepted);

        // A process outside the cgroup calling the intercepted destination: untouched (its plain text reaches the TLS service, which refuses it).
        Assert.Equal("0", await TransparentCgroup.ClientOutsideAsync(remote.Port));
        Assert.Equal(2, remote.Accepted);
        Assert.Equal([Batch], remote.Peers);
        Assert.Equal(2, node.Audit.Records.Count(r => r.Kind == AuditKinds.Connection));
    }

    [RootFact(setpriv: true)]
    public async Task AgentDown_FailClosedRefuses_FailOpenFlowsPlain_BothInterceptAgainAfterRestart()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var plain = new PlainEchoServer();
        using var cgroup = TransparentCgroup.Create();
        var pins = "/sys/fs/bpf/anchorage-test-" + Guid.NewGuid().ToString("N")[..12];
        var policy = new MutablePolicySource(Policies.Of("v1"));
        try
        {
            // The plain echo server is the intercepted destination: through the gate the connection is refused
            // (it cannot verify), while the agent is down it is refused (closed) or served in plain text (open).
            await using var node = await GateNode.StartAsync(
                domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, plain.Port, TransparentFailMode.Closed, pins), policy);
            var port = ((IPEndPoint)node.Gate.Endpoints["transparent"]).Port;
            Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
            await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the intercepted connection");
            Assert.Equal(0, plain.Accepted);

            // Closed: the gate stops (its listener and program fds close, as kill -9 does); the pinned programs still redirect.
            await node.Gate.DisposeAsync();
            Assert.Equal("refused", await cgroup.ClientAsync(plain.Port));
            Assert.Equal(0, plain.Accepted);

            // Restarted: the new gate's programs replace the pins; interception resumes.
            await using (var again = GateHost.Start(Options(cgroup, plain.Port, TransparentFailMode.Closed, pins, port), node.Setup))
            {
                Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
                Assert.Equal(0, plain.Accepted);
            }

            TransparentRedirect.Unpin(pins);
            Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain.Port));
            Assert.Equal(1, plain.Accepted);

            // Open: nothing is pinned; with the gate down the programs are gone and traffic flows in plain text.
            await using (var open = GateHost.Start(Options(cgroup, plain.Port, TransparentFailMode.Open, pins, port), node.Setup))
            {
                Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
                Assert.Equal(1, plain.Accepted);
                Assert.False(Directory.Exists(pins));
            }

            Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain.Port));
            Assert.Equal(2, plain.Accepted);
        }
        finally
        {
            TransparentRedirect.Unpin(pins);
        }
    }

    [RootFact(setpriv: true)]
    public async Task Ipv6Destination_RedirectedByConnect6AndUpgraded_V4MappedToo_OtherIpv6PortAndOutsideUntouched()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote6 = new TlsEchoService(service.Source, service.Source, IPAddress.IPv6Loopback);
        await using var remote4 = new TlsEchoService(service.Source, service.Source);
        await using var plain6 = new PlainEchoServer(IPAddress.IPv6Loopback);
        using var cgroup = TransparentCgroup.Create();
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("batch-to-api6", Batch, Api, remote6.Port), Policies.Allow("batch-to-api4", Batch, Api, remote4.Port)));
        GateTransparentDestination[] destinations =
        [
            new() { Name = "payments6", Network = IPNetwork.Parse("::1/128"), PortLow = remote6.Port, PortHigh = remote6.Port, Peer = Api },
            new() { Name = "payments4", Network = IPNetwork.Parse("127.0.0.1/32"), PortLow = remote4.Port, PortHigh = remote4.Port, Peer = Api },
        ];
        var listen = LoopbackPort.Unused();
        await using var node = await GateNode.StartAsync(
            domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, destinations, TransparentFailMode.Open, null, listen), policy);

        // The unmodified client dials [::1]:PORT in plain text (an AF_INET6 socket): connect6 redirects it; the service sees mTLS from /batch.
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(remote6.Port, host: "::1"));
        Assert.Equal([Batch], remote6.Peers);
        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the transparent allow over IPv6");
        Assert.Equal("payments6", allowed.Listener);
        Assert.Equal("[::1]:" + remote6.Port.ToString(CultureInfo.InvariantCulture), allowed.Remote);
        Assert.Equal(Batch.ToString(), allowed.SpiffeId);

        // An IPv4 destination reached through an AF_INET6 socket (::ffff:127.0.0.1) is intercepted as the IPv4 destination.
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(remote4.Port, host: "::ffff:127.0.0.1"));
        Assert.Equal([Batch], remote4.Peers);
        var mapped = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Listener: "payments4" }, "the transparent allow of the v4-mapped dial");
        Assert.Equal("127.0.0.1:" + remote4.Port.ToString(CultureInfo.InvariantCulture), mapped.Remote);

        // An IPV6_V6ONLY socket is redirected to the gate's [::1] listener (a true IPv6 connection)
        // and served like the dual-stack one: mTLS as /batch, its own allow record.
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(remote6.Port, host: "::1", v6Only: true));
        Assert.Equal([Batch, Batch], remote6.Peers);
        await Eventually.TrueAsync(
            () => node.Audit.Records.Count(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Listener: "payments6" }) == 2,
            "the V6ONLY client's transparent allow record");
        Assert.Equal(2, remote6.Accepted);

        // Another port on ::1, not configured: reached directly, in plain text, no audit record;
        // from an IPV6_V6ONLY socket too (the positive control for the line above).
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain6.Port, host: "::1"));
        Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain6.Port, host: "::1", v6Only: true));
        Assert.Equal(2, plain6.Accepted);

        // A process outside the cgroup dialing the IPv6 destination: untouched (its plain text reaches the TLS service, which refuses it).
        Assert.Equal("0", await TransparentCgroup.ClientOutsideAsync(remote6.Port, "::1"));
        Assert.Equal(3, remote6.Accepted);
        Assert.Equal([Batch, Batch], remote6.Peers);
        Assert.Equal(3, node.Audit.Records.Count(r => r.Kind == AuditKinds.Connection));

        // Dialing either transparent listener directly ([::1] and 127.0.0.1 at the same port; this
        // process is outside the cgroup, so nothing is redirected or recorded): closed unanswered,
        // audited not-redirected, never forwarded anywhere.
        foreach (var address in new[] { IPAddress.IPv6Loopback, IPAddress.Loopback })
        {
            Assert.Equal(0, await DialDirectlyAsync(new IPEndPoint(address, listen)));
        }

        await Eventually.TrueAsync(
            () => node.Audit.Records.Count(r => r is { Kind: AuditKinds.Connection, Decision: "deny" } && r.Reason == GateReasons.NotRedirected) == 2,
            "both direct dials audited not-redirected");
        Assert.Equal(3, remote6.Accepted);
        Assert.Equal(1, remote4.Accepted);
    }

    [RootFact(setpriv: true)]
    public async Task Ipv6Destination_NoIPv6ListenerPossible_V6OnlyFailsClosedDualStackStillServed()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote6 = new TlsEchoService(service.Source, service.Source, IPAddress.IPv6Loopback);
        using var cgroup = TransparentCgroup.Create();
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("batch-to-api6", Batch, Api, remote6.Port)));
        GateTransparentDestination[] destinations =
        [
            new() { Name = "payments6", Network = IPNetwork.Parse("::1/128"), PortLow = remote6.Port, PortHigh = remote6.Port, Peer = Api },
        ];

        // Another socket holds [::1] at the transparent port, so the gate cannot have its IPv6 listener.
        var listen = LoopbackPort.Unused();
        var squatter = new TcpListener(IPAddress.IPv6Loopback, listen);
        squatter.Start();
        try
        {
            await using var node = await GateNode.StartAsync(
                domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, destinations, TransparentFailMode.Open, null, listen), policy);

            // A dual-stack AF_INET6 client is still intercepted, through the v4-mapped listener (positive control).
            Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(remote6.Port, host: "::1"));
            Assert.Equal([Batch], remote6.Peers);

            // A V6ONLY client cannot reach a v4-mapped address: its connect fails (ENETUNREACH), never a bypass.
            Assert.Equal("unreachable", await cgroup.ClientAsync(remote6.Port, host: "::1", v6Only: true));
            Assert.Equal(1, remote6.Accepted);
            Assert.False(squatter.Pending(), "a redirected connection reached the socket on [::1]");
            Assert.Equal(1, node.Audit.Records.Count(r => r.Kind == AuditKinds.Connection));
        }
        finally
        {
            squatter.Stop();
        }
    }

    // Connects, sends a line and returns how many bytes came back before the gate closed it.
    private static async Task<int> DialDirectlyAsync(IPEndPoint listener)
    {
        using var socket = new Socket(listener.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(listener);
        try
        {
            await socket.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
            var received = 0;
            var buffer = new byte[256];
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                received += n;
            }

            return received;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            return 0;
        }
    }

    private static GateOptions Options(TransparentCgroup cgroup, int port, TransparentFailMode failMode, string? pins, int listen = 0) =>
        Options(cgroup, [new GateTransparentDestination { Name = "payments", Network = IPNetwork.Parse("127.0.0.1/32"), PortLow = port, PortHigh = port, Peer = Api }], failMode, pins, listen);

    private static GateOptions Options(TransparentCgroup cgroup, GateTransparentDestination[] destinations, TransparentFailMode failMode, string? pins, int listen = 0) => new()
    {
        Transparent = new GateTransparentOptions
        {
            Listen = new HostPort("127.0.0.1", listen == 0 ? LoopbackPort.Unused() : listen),
            FailMode = failMode,
            Cgroups = [cgroup.Path],
            PinDirectory = pins ?? GateTransparentOptions.DefaultPinDirectory,
            Destinations = destinations,
        },
    };
}
