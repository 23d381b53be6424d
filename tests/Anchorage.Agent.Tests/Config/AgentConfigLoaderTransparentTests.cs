using System.Net;
using Anchorage.Agent.Config;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Tests.Config;

/// <summary>agent.yaml <c>gate.transparent</c> (issue 10 item 3): the keys, their defaults, and every error with file:line: path.</summary>
public class AgentConfigLoaderTransparentTests
{
    // Lines 1-3: a valid file without a gate; the gate starts at line 4.
    private const string Base = "trustDomain: acme.corp\nserverAddress: server.acme.corp:8081\ntrustBundleFile: /etc/anchorage/bundle.json\n";

    [Fact]
    public void Parse_TransparentSection_ReadsEverySetting()
    {
        var result = AgentConfigLoader.Parse(Base + """
            gate:
              transparent:
                listen: tcp://127.0.0.1:15009
                failMode: open
                pinDir: /sys/fs/bpf/anchorage/t1
                cgroups: [/sys/fs/cgroup/unified/apps]
                destinations:
                  - name: payments
                    cidr: 10.0.0.0/8
                    ports: 8000-8999
                    peer: spiffe://payments.acme.corp/api
                  - name: ledger
                    cidr: 192.168.1.7/32
                    ports: "443"
                    peerTrustDomain: payments.acme.corp
                  - name: ledger6
                    cidr: "fd00:20::/32"
                    ports: 8443
                    peerTrustDomain: payments.acme.corp
            """);

        Assert.Empty(result.ErrorLines);
        var t = result.Value!.Gate!.Transparent!;
        Assert.Equal(new HostPort("127.0.0.1", 15009), t.Listen);
        Assert.Equal(TransparentFailMode.Open, t.FailMode);
        Assert.Equal("/sys/fs/bpf/anchorage/t1", t.PinDirectory);
        Assert.Equal(["/sys/fs/cgroup/unified/apps"], t.Cgroups);
        Assert.False(t.AllCgroups);
        Assert.Equal(IPNetwork.Parse("10.0.0.0/8"), t.Destinations[0].Network);
        Assert.Equal((8000, 8999), (t.Destinations[0].PortLow, t.Destinations[0].PortHigh));
        Assert.Equal(SpiffeId.Parse("spiffe://payments.acme.corp/api"), t.Destinations[0].Peer);
        Assert.Equal((443, 443), (t.Destinations[1].PortLow, t.Destinations[1].PortHigh));
        Assert.Equal(TrustDomain.Parse("payments.acme.corp"), t.Destinations[1].PeerTrustDomain);
        Assert.True(t.Destinations[0].Matches(IPAddress.Parse("10.1.2.3"), 8443));
        Assert.False(t.Destinations[0].Matches(IPAddress.Parse("10.1.2.3"), 9000));
        Assert.False(t.Destinations[0].Matches(IPAddress.Parse("11.1.2.3"), 8443));
        Assert.Equal(IPNetwork.Parse("fd00:20::/32"), t.Destinations[2].Network);
        Assert.True(t.Destinations[2].Matches(IPAddress.Parse("fd00:20::7"), 8443));
        Assert.False(t.Destinations[2].Matches(IPAddress.Parse("fd00:21::7"), 8443));
    }

    [Fact]
    public void Parse_TransparentMinimal_DefaultsListenFailModeClosedAndPinDir_AllCgroups()
    {
        var t = AgentConfigLoader.Parse(Base + "gate:\n  transparent:\n    cgroups: all\n    destinations:\n      - { name: a, cidr: 10.0.0.0/8, ports: 1-65535, peerTrustDomain: td }\n").Value!.Gate!.Transparent!;

        Assert.Equal(new HostPort("127.0.0.1", 15006), t.Listen);
        Assert.Equal(TransparentFailMode.Closed, t.FailMode);
        Assert.Equal("/sys/fs/bpf/anchorage/transparent", t.PinDirectory);
        Assert.True(t.AllCgroups);
        Assert.Empty(t.Cgroups);
    }

    [Fact]
    public void Parse_TransparentInboundOnly_ReadsPortsAndForward_CgroupsAndDestinationsOptional()
    {
        var result = AgentConfigLoader.Parse(Base + """
            gate:
              transparent:
                failMode: open
                inbound:
                  - name: api
                    port: 8443
                  - name: admin
                    port: 9000
                    forward: 127.0.0.2:9090
            """);

        Assert.Empty(result.ErrorLines);
        var t = result.Value!.Gate!.Transparent!;
        Assert.Empty(t.Destinations);
        Assert.Empty(t.Cgroups);
        Assert.Equal(2, t.Inbound.Count);
        Assert.Equal(("api", 8443, new HostPort("127.0.0.1", 8443)), (t.Inbound[0].Name, t.Inbound[0].Port, t.Inbound[0].Forward));
        Assert.Equal(("admin", 9000, new HostPort("127.0.0.2", 9090)), (t.Inbound[1].Name, t.Inbound[1].Port, t.Inbound[1].Forward));
    }

    public static TheoryData<string, string[]> Invalid => new()
    {
        {
            "gate:\n  transparent:\n    cgroups: all\n    inbound:\n      - { name: a, port: 0 }\n      - { name: b, port: 80, forward: \"10.0.0.1:80\" }\n      - { name: a, port: 80, forward: \"127.0.0.1:0\", extra: 1 }\n      - { port: x }\n",
            [
                "agent.yaml:5: gate.transparent.destinations: required",
                "agent.yaml:8: gate.transparent.inbound[0].port: \"0\" must be a port from 1 to 65535",
                "agent.yaml:9: gate.transparent.inbound[1].forward: host \"10.0.0.1\" must be an IPv4 loopback address (127.0.0.0/8): the gate forwards to a process on this node",
                "agent.yaml:10: gate.transparent.inbound[2].name: \"a\" is already the name of gate.transparent.inbound[0]",
                "agent.yaml:10: gate.transparent.inbound[2].port: \"80\" is already steered by gate.transparent.inbound[1]",
                "agent.yaml:10: gate.transparent.inbound[2].forward: port \"0\" must be a number from 1 to 65535",
                "agent.yaml:10: gate.transparent.inbound[2].extra: unknown setting",
                "agent.yaml:11: gate.transparent.inbound[3].name: required",
                "agent.yaml:11: gate.transparent.inbound[3].port: \"x\" must be a port from 1 to 65535",
            ]
        },
        {
            "gate:\n  transparent:\n    listen: tcp://10.0.0.1:1\n    failMode: sometimes\n    cgroups: [/sys/fs/cgroup/unified, rel]\n    destinations: []\n    pinDir: /tmp/x\n    extra: 1\n",
            [
                "agent.yaml:6: gate.transparent.listen: host \"10.0.0.1\" must be an IPv4 loopback address (127.0.0.0/8): redirected connections stay on this node",
                "agent.yaml:7: gate.transparent.failMode: \"sometimes\" must be closed or open",
                "agent.yaml:8: gate.transparent.cgroups[0]: must not be the root cgroup: use all to intercept every process but the agent",
                "agent.yaml:8: gate.transparent.cgroups[1]: \"rel\" must be an absolute path",
                "agent.yaml:8: gate.transparent.cgroups: must name at least one cgroup (or be all)",
                "agent.yaml:9: gate.transparent.destinations: must list 1 to 64 destinations",
                "agent.yaml:10: gate.transparent.pinDir: must be a directory under /sys/fs/bpf/ (bpffs)",
                "agent.yaml:11: gate.transparent.extra: unknown setting",
            ]
        },
        {
            "gate:\n  transparent:\n    listen: tcp://127.0.0.1:0\n    cgroups: everything\n    destinations:\n      - { name: a, cidr: 10.0.0.1/8, ports: 9-8, peer: spiffe://td/a, peerTrustDomain: td }\n      - { name: a, cidr: \"::ffff:10.0.0.0/104\", ports: 0 }\n      - { name: c, cidr: \"fd00::1/64\", ports: 1, peerTrustDomain: td }\n",
            [
                "agent.yaml:6: gate.transparent.listen: port 0 cannot be used with failMode closed: the programs keep redirecting to the port while the agent is down",
                "agent.yaml:7: gate.transparent.cgroups: must be all or a list of cgroup v2 directories",
                "agent.yaml:9: gate.transparent.destinations[0].cidr: \"10.0.0.1/8\" must be an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8 (base address with no host bits set)",
                "agent.yaml:9: gate.transparent.destinations[0].ports: \"9-8\" must be a port (8443) or a range (8000-8999) of ports from 1 to 65535",
                "agent.yaml:9: gate.transparent.destinations[0].peerTrustDomain: set only one of peer and peerTrustDomain",
                "agent.yaml:10: gate.transparent.destinations[1].name: \"a\" is already the name of gate.transparent.destinations[0]",
                "agent.yaml:10: gate.transparent.destinations[1].cidr: \"::ffff:10.0.0.0/104\" is IPv4-mapped: write the IPv4 network (10.0.0.0/8)",
                "agent.yaml:11: gate.transparent.destinations[2].cidr: \"fd00::1/64\" must be an IPv4 or IPv6 network such as 10.0.0.0/8 or fd00::/8 (base address with no host bits set)",
                "agent.yaml:10: gate.transparent.destinations[1].ports: \"0\" must be a port (8443) or a range (8000-8999) of ports from 1 to 65535",
                "agent.yaml:10: gate.transparent.destinations[1].peer: either peer or peerTrustDomain is required",
            ]
        },
        {
            "gate:\n  transparent:\n    failMode: open\n",
            [
                "agent.yaml:5: gate.transparent.cgroups: required",
                "agent.yaml:5: gate.transparent.destinations: required",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_InvalidTransparent_EveryErrorWithItsKeyPath(string gate, string[] expected)
    {
        var result = AgentConfigLoader.Parse(Base + gate);

        Assert.Equal(string.Join('\n', expected.Order(StringComparer.Ordinal)), string.Join('\n', result.ErrorLines.Order(StringComparer.Ordinal)));
    }
}
