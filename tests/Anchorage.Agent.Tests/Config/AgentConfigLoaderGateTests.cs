using Anchorage.Agent.Config;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Config;

/// <summary>agent.yaml <c>gate:</c> (issue 6 item 1): every error with file:line: path.</summary>
public class AgentConfigLoaderGateTests
{
    // Lines 1-3: a valid file without a gate; tables add the gate from line 4.
    private const string Base = "trustDomain: acme.corp\nserverAddress: server.acme.corp:8081\ntrustBundleFile: /etc/anchorage/bundle.json\n";

    [Fact]
    public void Parse_NoGateSection_GateIsNull()
    {
        Assert.Null(AgentConfigLoader.Parse(Base).Value!.Gate);
    }

    [Fact]
    public void Parse_IssueExample_ReadsEverySetting()
    {
        var result = AgentConfigLoader.Parse(Base + """
            gate:
              policyFile: /etc/anchorage/policy.yaml
              audit: { file: /var/log/anchorage/audit.jsonl, maxSizeMB: 100, keep: 5 }
              closeOnRevoke: false
              tunnels: true
              outbound:
                - name: payments
                  listen: unix:///run/anchorage/out/payments.sock
                  target: payments.acme.corp:8443
                  peer: spiffe://payments.acme.corp/api
                - name: ledger
                  listen: tcp://127.0.0.1:15001
                  target: 10.0.0.7:8443
                  peerTrustDomain: payments.acme.corp
                  tunnels: false
              inbound:
                - name: api
                  listen: tcp://0.0.0.0:8443
                  forward: 127.0.0.1:8080
            """);

        Assert.Empty(result.ErrorLines);
        var gate = result.Value!.Gate!;
        Assert.Equal("/etc/anchorage/policy.yaml", gate.PolicyFile);
        Assert.Equal("/var/log/anchorage/audit.jsonl", gate.Audit!.File);
        Assert.False(gate.CloseOnRevoke);
        Assert.True(gate.Tunnels);
        Assert.Equal(GateListenAddress.Unix("/run/anchorage/out/payments.sock"), gate.Outbound[0].Listen);
        Assert.Equal(new HostPort("payments.acme.corp", 8443), gate.Outbound[0].Target);
        Assert.Equal(SpiffeId.Parse("spiffe://payments.acme.corp/api"), gate.Outbound[0].Peer);
        Assert.Null(gate.Outbound[0].PeerTrustDomain);
        Assert.Equal(GateListenAddress.TcpAt(new HostPort("127.0.0.1", 15001)), gate.Outbound[1].Listen);
        Assert.Equal(TrustDomain.Parse("payments.acme.corp"), gate.Outbound[1].PeerTrustDomain);
        Assert.Null(gate.Outbound[0].Tunnels);
        Assert.False(gate.Outbound[1].Tunnels);
        Assert.Equal(new HostPort("0.0.0.0", 8443), gate.Inbound[0].Listen);
        Assert.Equal(new HostPort("127.0.0.1", 8080), gate.Inbound[0].Forward);
    }

    [Fact]
    public void Parse_GateWithoutCloseOnRevoke_DefaultsToTrue_NoAudit_NoTunnels()
    {
        var gate = AgentConfigLoader.Parse(Base + "gate:\n  inbound: []\n").Value!.Gate!;

        Assert.True(gate.CloseOnRevoke);
        Assert.False(gate.Tunnels);
        Assert.Null(gate.Audit);
        Assert.Null(gate.PolicyFile);
        Assert.Equal(4096, gate.MaxConnections);
        Assert.Equal(1024, gate.MaxConnectionsPerUid);
        Assert.Equal(TimeSpan.FromHours(1), gate.IdleTimeout);
    }

    [Fact]
    public void Parse_GateLimits_ReadsEachKey()
    {
        var gate = AgentConfigLoader.Parse(Base + "gate:\n  maxConnections: 300\n  maxConnectionsPerUid: 20\n  idleTimeout: 24h\n").Value!.Gate!;

        Assert.Equal(300, gate.MaxConnections);
        Assert.Equal(20, gate.MaxConnectionsPerUid);
        Assert.Equal(TimeSpan.FromHours(24), gate.IdleTimeout);
    }

    public static TheoryData<string, string> Invalid => new()
    {
        {
            "gate:\n  outbound:\n    - name: a\n      listen: tcp://127.0.0.1:1\n      target: x.example:1\n      peerTrustDomain: td\n      tunnels: maybe\n",
            "agent.yaml:10: gate.outbound[0].tunnels: \"maybe\" must be true or false"
        },
        {
            "gate:\n  outbound:\n    - name: a\n      listen: tcp://127.0.0.1:1\n      target: x.example:1\n      peer: spiffe://td/a\n      peerTrustDomain: td\n",
            "agent.yaml:10: gate.outbound[0].peerTrustDomain: set only one of peer and peerTrustDomain"
        },
        {
            "gate:\n  outbound:\n    - name: a\n      listen: tcp://127.0.0.1:1\n      target: x.example:1\n",
            "agent.yaml:6: gate.outbound[0].peer: either peer or peerTrustDomain is required"
        },
        {
            "gate:\n  outbound:\n    - name: a\n      listen: tcp://10.0.0.1:1\n      target: x.example:1\n      peerTrustDomain: td\n",
            "agent.yaml:7: gate.outbound[0].listen: host \"10.0.0.1\" must be a loopback IP address (127.0.0.0/8 or [::1]): only local callers can be attributed to a process"
        },
        {
            "gate:\n  outbound:\n    - name: a\n      listen: http://127.0.0.1:1\n      target: x.example:1\n      peerTrustDomain: td\n",
            "agent.yaml:7: gate.outbound[0].listen: \"http://127.0.0.1:1\" must be unix:///absolute/path or tcp://IP:PORT"
        },
        {
            "gate:\n  inbound:\n    - name: a\n      listen: unix:///run/a.sock\n      forward: 127.0.0.1:80\n",
            "agent.yaml:7: gate.inbound[0].listen: \"unix:///run/a.sock\" must be tcp://IP:PORT"
        },
        {
            "gate:\n  inbound:\n    - name: a\n      listen: tcp://0.0.0.0:8443\n      forward: 10.1.1.1:80\n",
            "agent.yaml:8: gate.inbound[0].forward: host \"10.1.1.1\" must be a loopback IP address (127.0.0.0/8 or [::1]): the gate forwards to a process on this node"
        },
        {
            "gate:\n  inbound:\n    - name: a\n      listen: tcp://0.0.0.0:8443\n      forward: 127.0.0.1:80\n    - name: a\n      listen: tcp://0.0.0.0:8444\n      forward: 127.0.0.1:81\n",
            "agent.yaml:9: gate.inbound[1].name: \"a\" is already the name of gate.inbound[0]"
        },
        {
            "gate:\n  inbound:\n    - name: a\n      listen: tcp://0.0.0.0:8443\n      forward: 127.0.0.1:80\n    - name: b\n      listen: tcp://127.0.0.1:8443\n      forward: 127.0.0.1:81\n",
            "agent.yaml:10: gate.inbound[1].listen: must differ from gate.inbound[0].listen"
        },
        {
            "gate:\n  audit: { maxSizeMB: 1 }\n",
            "agent.yaml:5: gate.audit.file: required"
        },
        {
            "gate:\n  maxConnections: 0\n",
            "agent.yaml:5: gate.maxConnections: \"0\" must be a number from 1 to 65536"
        },
        {
            "gate:\n  maxConnections: 100\n  maxConnectionsPerUid: 200\n",
            "agent.yaml:6: gate.maxConnectionsPerUid: 200 must not exceed gate.maxConnections (100)"
        },
        {
            "gate:\n  maxConnections: 100\n",
            "agent.yaml:5: gate.maxConnections: 100 must be at least gate.maxConnectionsPerUid (1024, the default)"
        },
        {
            "gate:\n  idleTimeout: 25h\n",
            "agent.yaml:5: gate.idleTimeout: must be from 1s to 1d"
        },
        {
            "gate:\n  closeOnRevoke: maybe\n",
            "agent.yaml:5: gate.closeOnRevoke: \"maybe\" must be true or false"
        },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_InvalidGate_ReportsTheErrorWithLineAndPath(string gate, string expected)
    {
        var result = AgentConfigLoader.Parse(Base + gate);

        Assert.Equal([expected], result.ErrorLines);
    }

    [Fact]
    public void Parse_DocumentedExample_HasAGateWithEveryKind()
    {
        var result = AgentConfigLoader.Load(Path.Combine(Processes.RepoRoot(), "docs", "agent.yaml"));

        Assert.Empty(result.ErrorLines);
        var gate = result.Value!.Gate!;
        Assert.NotNull(gate.Audit);
        Assert.Equal(2, gate.Outbound.Count);
        Assert.Single(gate.Inbound);
    }
}
