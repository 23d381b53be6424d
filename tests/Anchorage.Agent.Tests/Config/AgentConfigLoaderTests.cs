using Anchorage.Agent.Config;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Config;

public class AgentConfigLoaderTests
{
    // A well-formed join token: 16 lowercase hex digits, a dot, 43 base64url characters.
    private const string TokenId = "0123456789abcdef";
    private const string Secret = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tX";
    private const string Token = TokenId + "." + Secret;

    // Every setting given, none at its default.
    private const string FullExample = $"""
        trustDomain: acme.corp
        dataDir: /srv/anchorage/agent
        serverAddress: server.acme.corp:8081
        joinToken: "{Token}"
        trustBundleFile: /etc/anchorage/bundle.json
        insecureBootstrap: false
        syncInterval: 30s
        workloadApi:
          socket: /run/spire-compatible/api.sock
          tcp: "[::1]:8088"
          maxStreamsPerCaller: 8
          maxConnections: 2000
          maxConnectionsPerUid: 100
          idleTimeout: 10s
          requestsPerSecondPerUid: 50
        listen:
          adminSocket: /run/anchorage/agent/admin.sock
          health: 127.0.0.1:9089
        adminUids: [0, 1000]
        """;

    // Lines 1-2: the two required settings; tables add the line that is under test from line 3.
    private const string Head = "trustDomain: acme.corp\nserverAddress: server.acme.corp:8081\n";

    // Lines 1-3: a valid file; tables add the lines under test from line 4.
    private const string Base = Head + "trustBundleFile: /etc/anchorage/bundle.json\n";

    [Fact]
    public void Parse_FullExample_ReturnsEverySetting()
    {
        var result = AgentConfigLoader.Parse(FullExample);

        Assert.Empty(result.ErrorLines);
        Assert.True(result.IsValid);
        var expected = new AgentOptions
        {
            TrustDomain = TrustDomain.Parse("acme.corp"),
            DataDir = "/srv/anchorage/agent",
            ServerAddress = new HostPort("server.acme.corp", 8081),
            JoinToken = Token,
            TrustBundleFile = "/etc/anchorage/bundle.json",
            InsecureBootstrap = false,
            SyncInterval = TimeSpan.FromSeconds(30),
            WorkloadApi = new WorkloadApiListenOptions
            {
                Socket = "/run/spire-compatible/api.sock",
                Tcp = new HostPort("::1", 8088),
                MaxStreamsPerCaller = 8,
                MaxConnections = 2000,
                MaxConnectionsPerUid = 100,
                IdleTimeout = TimeSpan.FromSeconds(10),
                RequestsPerSecondPerUid = 50,
            },
            Listen = new AgentListenOptions
            {
                AdminSocket = "/run/anchorage/agent/admin.sock",
                Health = new HostPort("127.0.0.1", 9089),
            },
            AdminUids = [0, 1000],
        };
        // Lists compare by reference in records: compare the uids as a sequence, the rest as records.
        Assert.Equal(expected.AdminUids, result.Value.AdminUids);
        Assert.Equal(expected, result.Value with { AdminUids = expected.AdminUids });
    }

    [Fact]
    public void Parse_RequiredOnly_AppliesEveryDefault()
    {
        var result = AgentConfigLoader.Parse(Head + "insecureBootstrap: true\n");

        Assert.Empty(result.ErrorLines);
        var options = result.Value!;
        Assert.Equal("acme.corp", options.TrustDomain.Name);
        Assert.Equal(new HostPort("server.acme.corp", 8081), options.ServerAddress);
        Assert.Equal("/var/lib/anchorage/agent", options.DataDir);
        Assert.Null(options.JoinToken);
        Assert.Null(options.TrustBundleFile);
        Assert.True(options.InsecureBootstrap);
        Assert.Equal(TimeSpan.FromSeconds(5), options.SyncInterval);
        Assert.Equal("/run/anchorage/agent/api.sock", options.WorkloadApi.Socket);
        Assert.Null(options.WorkloadApi.Tcp);
        Assert.Equal(128, options.WorkloadApi.MaxStreamsPerCaller);
        Assert.Equal(4096, options.WorkloadApi.MaxConnections);
        Assert.Equal(1024, options.WorkloadApi.MaxConnectionsPerUid);
        Assert.Equal(TimeSpan.FromSeconds(30), options.WorkloadApi.IdleTimeout);
        Assert.Equal(1000, options.WorkloadApi.RequestsPerSecondPerUid);
        Assert.Equal("/var/lib/anchorage/agent/admin.sock", options.Listen.AdminSocket);
        Assert.Equal(new HostPort("127.0.0.1", 8089), options.Listen.Health);
        Assert.Equal([0u], options.AdminUids);
    }

    [Fact]
    public void Parse_RequiredOnly_EqualsTheRecordDefaults()
    {
        var parsed = AgentConfigLoader.Parse(Base).Value!;
        var constructed = new AgentOptions
        {
            TrustDomain = TrustDomain.Parse("acme.corp"),
            ServerAddress = new HostPort("server.acme.corp", 8081),
            TrustBundleFile = "/etc/anchorage/bundle.json",
            Listen = new AgentListenOptions { AdminSocket = AgentOptions.DefaultDataDir + "/admin.sock" },
        };

        Assert.Equal(constructed, parsed with { AdminUids = constructed.AdminUids });
        Assert.Equal(constructed.AdminUids, parsed.AdminUids);
    }

    [Fact]
    public void Parse_DataDirGiven_DerivesTheAdminSocket()
    {
        var options = AgentConfigLoader.Parse(Base + "dataDir: /srv/agent\n").Value!;

        Assert.Equal("/srv/agent/admin.sock", options.Listen.AdminSocket);
    }

    [Fact]
    public void Parse_DocumentedExample_ParsesWithEverySettingSet()
    {
        // docs/agent.yaml shows every key; if the loader and the document drift apart, this fails.
        var path = Path.Combine(Processes.RepoRoot(), "docs", "agent.yaml");

        var result = AgentConfigLoader.Load(path);

        Assert.Empty(result.ErrorLines);
        var options = result.Value!;
        Assert.Equal("acme.corp", options.TrustDomain.Name);
        Assert.Equal(new HostPort("server.acme.corp", 8081), options.ServerAddress);
        Assert.NotNull(options.JoinToken);
        Assert.Equal("/etc/anchorage/bundle.json", options.TrustBundleFile);
        Assert.False(options.InsecureBootstrap);
        Assert.Equal(new HostPort("127.0.0.1", 8088), options.WorkloadApi.Tcp);
        Assert.Equal("/run/anchorage/agent/admin.sock", options.Listen.AdminSocket);
        Assert.Equal(Anchorage.Foundation.Logging.LogFormat.Json, options.Logging.Format);
        Assert.Equal(KernelAttributionMode.Auto, options.KernelAttribution.Mode);
        Assert.Equal(["/sys/fs/cgroup/unified/workloads"], options.KernelAttribution.Cgroups);
    }

    [Fact]
    public void Parse_NoAttestationSection_KernelAttributionAutoWithoutCgroups()
    {
        var result = AgentConfigLoader.Parse("trustDomain: acme.corp\nserverAddress: s:1\ninsecureBootstrap: true\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(KernelAttributionMode.Auto, result.Value!.KernelAttribution.Mode);
        Assert.Empty(result.Value.KernelAttribution.Cgroups);
    }

    [Fact]
    public void Parse_KernelAttributionErrors_EachReportedWithItsKeyPath()
    {
        var result = AgentConfigLoader.Parse(
            "trustDomain: acme.corp\nserverAddress: s:1\ninsecureBootstrap: true\n"
            + "attestation:\n  kernel:\n    mode: sometimes\n    cgroups: [/sys/fs/cgroup/unified, relative/cg, /sys/fs/cgroup/unified/ok]\n    extra: 1\n");

        Assert.Equal(
            [
                "agent.yaml:6: attestation.kernel.mode: \"sometimes\" must be auto, required or off",
                "agent.yaml:7: attestation.kernel.cgroups[0]: must not be the root cgroup: every process on the host would be attributed",
                "agent.yaml:7: attestation.kernel.cgroups[1]: \"relative/cg\" must be an absolute path",
                "agent.yaml:8: attestation.kernel.extra: unknown setting",
            ],
            result.ErrorLines);
    }

    [Fact]
    public void Parse_KernelAttributionRequiredWithoutCgroups_Error()
    {
        var result = AgentConfigLoader.Parse(
            "trustDomain: acme.corp\nserverAddress: s:1\ninsecureBootstrap: true\nattestation:\n  kernel:\n    mode: required\n");

        Assert.Equal(["agent.yaml:6: attestation.kernel.mode: required needs at least one cgroup in attestation.kernel.cgroups"], result.ErrorLines);
    }

    [Theory]
    [InlineData("server.acme.corp:8081", "server.acme.corp", 8081)]
    [InlineData("Server-1.Acme.Corp:443", "Server-1.Acme.Corp", 443)]
    [InlineData("anchorage:1", "anchorage", 1)]
    [InlineData("localhost:8081", "localhost", 8081)]
    [InlineData("10.0.0.1:65535", "10.0.0.1", 65535)]
    [InlineData("[fd00::1]:8081", "fd00::1", 8081)]
    [InlineData("a1.b-2.c3d:8081", "a1.b-2.c3d", 8081)]
    public void Parse_ServerAddressForms_Accepted(string value, string host, int port)
    {
        var result = AgentConfigLoader.Parse($"trustDomain: acme.corp\nserverAddress: \"{value}\"\ninsecureBootstrap: true\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(new HostPort(host, port), result.Value!.ServerAddress);
    }

    [Theory]
    [InlineData("127.0.0.1:0", "127.0.0.1", 0)]
    [InlineData("127.255.0.9:8088", "127.255.0.9", 8088)]
    [InlineData("[::1]:8088", "::1", 8088)]
    public void Parse_LoopbackTcp_Accepted(string value, string host, int port)
    {
        var result = AgentConfigLoader.Parse(Base + $"workloadApi:\n  tcp: \"{value}\"\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(new HostPort(host, port), result.Value!.WorkloadApi.Tcp);
    }

    [Theory]
    [InlineData("1s", 1)]
    [InlineData("90s", 90)]
    [InlineData("10m", 600)]
    public void Parse_SyncIntervalBounds_Accepted(string value, int seconds)
    {
        var result = AgentConfigLoader.Parse(Base + $"syncInterval: {value}\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(TimeSpan.FromSeconds(seconds), result.Value!.SyncInterval);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("1024", 1024)]
    public void Parse_MaxStreamsBounds_Accepted(string value, int expected)
    {
        var result = AgentConfigLoader.Parse(Base + $"workloadApi:\n  maxStreamsPerCaller: {value}\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(expected, result.Value!.WorkloadApi.MaxStreamsPerCaller);
    }

    [Fact]
    public void Parse_TrustBundleFileThatDoesNotExist_IsAcceptedForTheAgentToReportAtStart()
    {
        var result = AgentConfigLoader.Parse(Head + "trustBundleFile: /nonexistent/anchorage/bundle.json\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal("/nonexistent/anchorage/bundle.json", result.Value!.TrustBundleFile);
    }

    [Fact]
    public void Parse_DistinctSocketsAndPorts_ControlParses()
    {
        // Positive control for the clash rows: the same keys with values that differ.
        var result = AgentConfigLoader.Parse(
            Base + "workloadApi:\n  socket: /run/a/api.sock\n  tcp: 127.0.0.1:8089\nlisten:\n  adminSocket: /run/a/admin.sock\n  health: 127.0.0.1:8090\n");

        Assert.Empty(result.ErrorLines);
    }

    public static TheoryData<string, string[]> BrokenConfigs => new()
    {
        // Required settings and bootstrap trust.
        {
            "dataDir: /srv/agent\n",
            [
                "agent.yaml: trustDomain: required",
                "agent.yaml: serverAddress: required",
                "agent.yaml: trustBundleFile: either trustBundleFile or insecureBootstrap: true is required",
            ]
        },
        {
            Head,
            ["agent.yaml: trustBundleFile: either trustBundleFile or insecureBootstrap: true is required"]
        },
        {
            Head + "insecureBootstrap: false\n",
            ["agent.yaml:3: trustBundleFile: either trustBundleFile or insecureBootstrap: true is required"]
        },
        {
            Head + "trustBundleFile: /etc/anchorage/bundle.json\ninsecureBootstrap: true\n",
            ["agent.yaml:4: insecureBootstrap: set only one of trustBundleFile and insecureBootstrap: true"]
        },
        {
            Head + "insecureBootstrap: yes\n",
            ["agent.yaml:3: insecureBootstrap: \"yes\" must be true or false"]
        },
        {
            Head + "trustBundleFile: bundle.json\n",
            ["agent.yaml:3: trustBundleFile: \"bundle.json\" must be an absolute path"]
        },
        {
            Head + "trustBundleFile: [/a, /b]\n",
            ["agent.yaml:3: trustBundleFile: must be a single value, not a list"]
        },

        // trustDomain and dataDir.
        {
            "trustDomain: ACME.corp\nserverAddress: s:1\ninsecureBootstrap: true\n",
            ["agent.yaml:1: trustDomain: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase"]
        },
        {
            "trustDomain: spiffe://acme.corp/x\nserverAddress: s:1\ninsecureBootstrap: true\n",
            ["agent.yaml:1: trustDomain: a trust domain cannot have a path"]
        },
        {
            Base + "dataDir: var/lib/anchorage\n",
            ["agent.yaml:4: dataDir: \"var/lib/anchorage\" must be an absolute path"]
        },

        // serverAddress: dialed, so DNS names are fine and port 0 is not.
        {
            "trustDomain: acme.corp\nserverAddress: server.acme.corp\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: must be host:port"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: \":8081\"\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: must be host:port"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: \"[fd00::1]8081\"\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: must be host:port"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: server.acme.corp:0\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: port \"0\" must be a number from 1 to 65535"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: server.acme.corp:65536\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: port \"65536\" must be a number from 1 to 65535"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: \"server.acme.corp:\"\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: port \"\" must be a number from 1 to 65535"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: \"fd00::1:8081\"\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: an IPv6 address must be in brackets, e.g. [fd00::1]:8081"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: \"[10.0.0.1]:8081\"\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"10.0.0.1\" in brackets must be an IPv6 address"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: 10.0.1:8081\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"10.0.1\" must be a DNS name or an IP address"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: 10.0.0.256:8081\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"10.0.0.256\" must be a DNS name or an IP address"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: server_1.acme.corp:8081\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"server_1.acme.corp\" must be a DNS name or an IP address"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: -server.acme.corp:8081\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"-server.acme.corp\" must be a DNS name or an IP address"]
        },
        {
            "trustDomain: acme.corp\nserverAddress: server..acme.corp:8081\ninsecureBootstrap: true\n",
            ["agent.yaml:2: serverAddress: host \"server..acme.corp\" must be a DNS name or an IP address"]
        },
        {
            $"trustDomain: acme.corp\nserverAddress: {new string('a', 64)}.corp:8081\ninsecureBootstrap: true\n",
            [$"agent.yaml:2: serverAddress: host \"{new string('a', 60)}...\" must be a DNS name or an IP address"]
        },

        // joinToken: the message never quotes the value.
        {
            Base + "joinToken: abc\n",
            ["agent.yaml:4: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)"]
        },
        {
            Base + $"joinToken: {TokenId.ToUpperInvariant()}.{Secret}\n",
            ["agent.yaml:4: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)"]
        },
        {
            Base + $"joinToken: {TokenId}.{Secret[..42]}\n",
            ["agent.yaml:4: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)"]
        },
        {
            Base + $"joinToken: \"{TokenId}.{Secret[..42]}=\"\n",
            ["agent.yaml:4: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)"]
        },
        {
            Base + $"joinToken: \"{Token} \"\n",
            ["agent.yaml:4: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)"]
        },

        // syncInterval.
        {
            Base + "syncInterval: 500ms\n",
            ["agent.yaml:4: syncInterval: must be from 1s to 10m"]
        },
        {
            Base + "syncInterval: 10m1s\n",
            ["agent.yaml:4: syncInterval: must be from 1s to 10m"]
        },
        {
            Base + "syncInterval: 5\n",
            ["agent.yaml:4: syncInterval: \"5\" is not a duration (e.g. 90s, 5m, 24h)"]
        },

        // workloadApi.
        {
            Base + "workloadApi: /run/api.sock\n",
            ["agent.yaml:4: workloadApi: must be a mapping of settings"]
        },
        {
            Base + "workloadApi:\n  socket: api.sock\n",
            ["agent.yaml:5: workloadApi.socket: \"api.sock\" must be an absolute path"]
        },
        {
            Base + $"workloadApi:\n  socket: /{new string('s', 107)}\n",
            [$"agent.yaml:5: workloadApi.socket: \"/{new string('s', 59)}...\" is longer than 107 bytes, the limit of a unix socket path"]
        },
        {
            Base + "workloadApi:\n  tcp: 10.0.0.1:8088\n",
            ["agent.yaml:5: workloadApi.tcp: host \"10.0.0.1\" must be a loopback IP address (127.0.0.0/8 or [::1])"]
        },
        {
            Base + "workloadApi:\n  tcp: 0.0.0.0:0\n",
            ["agent.yaml:5: workloadApi.tcp: host \"0.0.0.0\" must be a loopback IP address (127.0.0.0/8 or [::1])"]
        },
        {
            Base + "workloadApi:\n  tcp: \"[::]:8088\"\n",
            ["agent.yaml:5: workloadApi.tcp: host \"::\" must be a loopback IP address (127.0.0.0/8 or [::1])"]
        },
        {
            Base + "workloadApi:\n  tcp: localhost:8088\n",
            ["agent.yaml:5: workloadApi.tcp: host \"localhost\" must be a loopback IP address (127.0.0.0/8 or [::1])"]
        },
        {
            Base + "workloadApi:\n  tcp: 8088\n",
            ["agent.yaml:5: workloadApi.tcp: must be host:port"]
        },
        {
            Base + "workloadApi:\n  maxStreamsPerCaller: 0\n",
            ["agent.yaml:5: workloadApi.maxStreamsPerCaller: \"0\" must be a number from 1 to 1024"]
        },
        {
            Base + "workloadApi:\n  maxStreamsPerCaller: 1025\n",
            ["agent.yaml:5: workloadApi.maxStreamsPerCaller: \"1025\" must be a number from 1 to 1024"]
        },
        {
            Base + "workloadApi:\n  maxStreamsPerCaller: -1\n",
            ["agent.yaml:5: workloadApi.maxStreamsPerCaller: \"-1\" must be a number from 1 to 1024"]
        },
        {
            Base + "workloadApi:\n  maxStreamsPerCaller: many\n",
            ["agent.yaml:5: workloadApi.maxStreamsPerCaller: \"many\" must be a number from 1 to 1024"]
        },
        {
            Base + "workloadApi:\n  maxConnections: 0\n  maxConnectionsPerUid: 70000\n",
            [
                "agent.yaml:5: workloadApi.maxConnections: \"0\" must be a number from 1 to 65536",
                "agent.yaml:6: workloadApi.maxConnectionsPerUid: \"70000\" must be a number from 1 to 65536",
            ]
        },
        {
            Base + "workloadApi:\n  maxConnections: 100\n  maxConnectionsPerUid: 200\n",
            ["agent.yaml:6: workloadApi.maxConnectionsPerUid: 200 must not exceed workloadApi.maxConnections (100)"]
        },
        {
            Base + "workloadApi:\n  maxConnections: 100\n",
            ["agent.yaml:5: workloadApi.maxConnections: 100 must be at least workloadApi.maxConnectionsPerUid (1024, the default)"]
        },
        {
            Base + "workloadApi:\n  idleTimeout: 500ms\n  requestsPerSecondPerUid: 0\n",
            [
                "agent.yaml:5: workloadApi.idleTimeout: must be from 1s to 1h",
                "agent.yaml:6: workloadApi.requestsPerSecondPerUid: \"0\" must be a number from 1 to 1000000",
            ]
        },

        // listen.
        {
            Base + "listen:\n  adminSocket: admin.sock\n",
            ["agent.yaml:5: listen.adminSocket: \"admin.sock\" must be an absolute path"]
        },
        {
            Base + $"dataDir: /{new string('d', 100)}\n",
            [$"agent.yaml:4: listen.adminSocket: \"/{new string('d', 59)}...\" is longer than 107 bytes, the limit of a unix socket path"]
        },
        {
            Base + "listen:\n  adminSocket: /run/anchorage/agent/api.sock\n",
            ["agent.yaml:5: listen.adminSocket: must differ from workloadApi.socket"]
        },
        {
            Base + "workloadApi:\n  socket: /run/a/api.sock\nlisten:\n  adminSocket: /run//a/./api.sock\n",
            ["agent.yaml:7: listen.adminSocket: must differ from workloadApi.socket"]
        },
        {
            // The default admin socket (<dataDir>/admin.sock) clashes: reported at the socket that names it.
            Base + "dataDir: /run/a\nworkloadApi:\n  socket: /run/a/admin.sock\n",
            ["agent.yaml:6: listen.adminSocket: must differ from workloadApi.socket"]
        },
        {
            Base + "listen:\n  health: 127.0.0.1\n",
            ["agent.yaml:5: listen.health: must be host:port"]
        },
        {
            Base + "listen:\n  health: server.acme.corp:8089\n",
            ["agent.yaml:5: listen.health: host \"server.acme.corp\" must be an IP address or localhost"]
        },
        {
            // The default health listener (127.0.0.1:8089) clashes: reported at workloadApi.tcp.
            Base + "workloadApi:\n  tcp: 127.0.0.1:8089\n",
            ["agent.yaml:5: listen.health: must differ from workloadApi.tcp"]
        },
        {
            Base + "workloadApi:\n  tcp: 127.0.0.1:9000\nlisten:\n  health: 127.0.0.1:9000\n",
            ["agent.yaml:7: listen.health: must differ from workloadApi.tcp"]
        },

        // adminUids.
        {
            Base + "adminUids: 0\n",
            ["agent.yaml:4: adminUids: must be a list"]
        },
        {
            Base + "adminUids: []\n",
            ["agent.yaml:4: adminUids: must list at least one uid"]
        },
        {
            Base + "adminUids:\n  - 0\n  - -1\n  - root\n  - 4294967295\n",
            [
                "agent.yaml:6: adminUids[1]: \"-1\" is not a uid (a number from 0 to 4294967294)",
                "agent.yaml:7: adminUids[2]: \"root\" is not a uid (a number from 0 to 4294967294)",
                "agent.yaml:8: adminUids[3]: \"4294967295\" is not a uid (a number from 0 to 4294967294)",
            ]
        },

        // Unknown keys, at every level.
        {
            Base + "gatekeeper: {}\n",
            ["agent.yaml:4: gatekeeper: unknown setting"]
        },
        {
            Base + "join_token: x\n",
            ["agent.yaml:4: join_token: unknown setting; did you mean joinToken?"]
        },
        {
            Base + "workloadApi:\n  Socket: /run/api.sock\n",
            ["agent.yaml:5: workloadApi.Socket: unknown setting; did you mean socket?"]
        },
        {
            Base + "listen:\n  agentApi: 127.0.0.1:8081\n",
            ["agent.yaml:5: listen.agentApi: unknown setting"]
        },
    };

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public void Parse_BrokenConfig_ReportsExactErrors(string yaml, string[] expected)
    {
        var result = AgentConfigLoader.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Null(result.Value);
        Assert.Equal(expected, result.ErrorLines);
    }

    [Fact]
    public void Parse_ManyMistakes_ReportsEveryErrorInFileOrder()
    {
        const string yaml = """
            dataDir: relative
            serverAddress: server.acme.corp:0
            joinToken: nope
            syncInterval: 1h
            workloadApi:
              tcp: 192.168.1.1:8088
              colour: blue
            listen:
              health: nowhere
            adminUids: [x]
            gatekeeper: {}
            """;

        var result = AgentConfigLoader.Parse(yaml);

        Assert.Equal(
            [
                "agent.yaml:1: dataDir: \"relative\" must be an absolute path",
                "agent.yaml:2: serverAddress: port \"0\" must be a number from 1 to 65535",
                "agent.yaml:3: joinToken: must look like <id>.<secret> (16 lowercase hex digits, a dot, 43 base64url characters)",
                "agent.yaml:4: syncInterval: must be from 1s to 10m",
                "agent.yaml:6: workloadApi.tcp: host \"192.168.1.1\" must be a loopback IP address (127.0.0.0/8 or [::1])",
                "agent.yaml:7: workloadApi.colour: unknown setting",
                "agent.yaml:9: listen.health: must be host:port",
                "agent.yaml:10: adminUids[0]: \"x\" is not a uid (a number from 0 to 4294967294)",
                "agent.yaml:11: gatekeeper: unknown setting",
                "agent.yaml: trustDomain: required",
                "agent.yaml: trustBundleFile: either trustBundleFile or insecureBootstrap: true is required",
            ],
            result.ErrorLines);
    }

    [Fact]
    public void Parse_ManyMistakesFixed_ControlParses()
    {
        // Positive control for the test above: the same keys with valid values.
        var yaml = $"""
            trustDomain: acme.corp
            dataDir: /srv/agent
            serverAddress: server.acme.corp:8081
            joinToken: {Token}
            syncInterval: 1m
            workloadApi:
              tcp: 127.0.0.1:8088
            listen:
              health: 127.0.0.1:8089
            adminUids: [0]
            insecureBootstrap: true
            """;

        var result = AgentConfigLoader.Parse(yaml);

        Assert.Empty(result.ErrorLines);
        Assert.Equal(Token, result.Value!.JoinToken);
    }

    [Fact]
    public void Parse_EmptyFile_ReportsTheRequiredSettings()
    {
        string[] expected =
        [
            "agent.yaml: trustDomain: required",
            "agent.yaml: serverAddress: required",
            "agent.yaml: trustBundleFile: either trustBundleFile or insecureBootstrap: true is required",
        ];

        Assert.Equal(expected, AgentConfigLoader.Parse(string.Empty).ErrorLines);
        Assert.Equal(expected, AgentConfigLoader.Parse("# nothing set yet\n").ErrorLines);
    }

    public static TheoryData<string, string> MalformedYaml => new()
    {
        { Base + "workloadApi:\n  socket: /run/a.sock\n   tcp: 127.0.0.1:0\n", "agent.yaml:6:7: while scanning a plain scalar value, found invalid mapping" },
        { Base + "trustDomain: other.corp\n", "agent.yaml:4:1: duplicate key trustDomain" },
        { "trustDomain: \"acme.corp\n", "agent.yaml:1:14: while scanning a quoted scalar, found unexpected end of stream" },
        { "- trustDomain: acme.corp\n", "agent.yaml:1:1: the file must be a mapping of settings (key: value)" },
        { Base + "---\n" + Base, "agent.yaml:5:1: expected one YAML document, found more" },
    };

    [Theory]
    [MemberData(nameof(MalformedYaml))]
    public void Parse_MalformedYaml_ReportsOneLineWithColumn(string yaml, string expected)
    {
        var result = AgentConfigLoader.Parse(yaml);

        Assert.Equal(expected, Assert.Single(result.ErrorLines));
    }

    public static TheoryData<string> FilesWithTheSecret => new()
    {
        Base + $"joinToken: {TokenId}.{Secret}!\n",
        Base + $"joinToken: {TokenId.ToUpperInvariant()}.{Secret}\n",
        Base + $"joinToken: {Secret}\n",
        Base + $"joinToken: \"{Token}\\n\"\n",
        Base + $"joinToken: [{Token}]\n",
        Base + $"joinToken: {{ id: {TokenId}, secret: {Secret} }}\n",
        Base + $"joinToken: \"{Token}\n",
        Base + $"joinToken: '{Token}\n",
        Base + $"joinToken: {Token}\n  more: x\n",
        Base + $"joinToken: {Token}\njoinToken: {Token}\n",
        Base + $"join_token: {Token}\n",
        $"joinToken: {Token}\n",
    };

    [Theory]
    [MemberData(nameof(FilesWithTheSecret))]
    public void Parse_MalformedJoinToken_NeverEchoesTheSecret(string yaml)
    {
        var result = AgentConfigLoader.Parse(yaml);

        // Each file has at least one error (so the scan below looks at real output), none with the secret.
        Assert.NotEmpty(result.ErrorLines);
        foreach (var line in result.ErrorLines)
        {
            Assert.DoesNotContain(Secret[..12], line, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Parse_WellFormedJoinToken_ControlKeepsTheToken()
    {
        // Positive control for the secret scan: the token is read, so the scan above is on a value the loader sees.
        var result = AgentConfigLoader.Parse(Base + $"joinToken: {Token}\n");

        Assert.Equal(Token, result.Value!.JoinToken);
    }

    [Fact]
    public void ToString_WithJoinToken_RedactsTheSecret()
    {
        var options = AgentConfigLoader.Parse(Base + $"joinToken: {Token}\n").Value!;

        var text = options.ToString();

        Assert.DoesNotContain(Secret, text, StringComparison.Ordinal);
        Assert.Contains("JoinToken = (redacted)", text, StringComparison.Ordinal);
        Assert.Contains("ServerAddress = server.acme.corp:8081", text, StringComparison.Ordinal);
        Assert.Contains("AdminUids = [0]", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SourceName_PrefixesMessages()
    {
        var result = AgentConfigLoader.Parse(Base + "foo: 1\n", "/etc/anchorage/agent.yaml");

        Assert.Equal(["/etc/anchorage/agent.yaml:4: foo: unknown setting"], result.ErrorLines);
    }

    [Fact]
    public void Load_File_ParsesAndNamesThePath()
    {
        using var dir = new TempDir();
        var good = Path.Join(dir.Path, "agent.yaml");
        var bad = Path.Join(dir.Path, "bad.yaml");
        File.WriteAllText(good, FullExample);
        File.WriteAllText(bad, Base + "syncInterval: x\n");

        Assert.True(AgentConfigLoader.Load(good).IsValid);
        Assert.Equal([$"{bad}:4: syncInterval: \"x\" is not a duration (e.g. 90s, 5m, 24h)"], AgentConfigLoader.Load(bad).ErrorLines);
    }

    [Fact]
    public void Load_MissingFile_ReportsFileNotFound()
    {
        using var dir = new TempDir();
        var path = Path.Join(dir.Path, "absent.yaml");

        Assert.Equal([$"{path}: file not found"], AgentConfigLoader.Load(path).ErrorLines);
    }
}
