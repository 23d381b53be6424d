using Anchorage.Foundation.Config;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.Server.Tests.Config;

public class ServerConfigLoaderTests
{
    // The example from the documentation, every setting given.
    private const string FullExample = """
        trustDomain: acme.corp
        dataDir: /var/lib/anchorage/server
        serverId: server-1
        datastore:
          postgres:
            connectionString: "Host=127.0.0.1;Database=anchorage;Username=anchorage"
        listen:
          agentApi: 127.0.0.1:8081
          adminSocket: /run/anchorage/server/admin.sock
          health: "[::1]:8080"
        ca:
          keyType: ec-p384
          caTtl: 48h
          x509SvidTtl: 1h30m
          jwtSvidTtl: 5m
          upstream: { certFile: /etc/anchorage/up.crt, keyFile: /etc/anchorage/up.key, bundleFile: /etc/anchorage/up-bundle.pem }
        bundle:
          refreshHint: 10m
        federation:
          refreshFloor: 90s
          bundleEndpoint:
            listen: 0.0.0.0:8443
            profile: https_web
            servingCert: { certFile: /etc/anchorage/web.crt, keyFile: /etc/anchorage/web.key }
        agentApiLimits:
          maxMessageBytes: 1048576
          maxConnectionsPerPeer: 8
          requestBodyDeadline: 10s
          maxX509SvidBatch: 20
          maxConcurrentSigning: 6
        adminUids: [0, 1000]
        """;

    [Fact]
    public void Parse_FullExample_ReturnsEverySetting()
    {
        var result = ServerConfigLoader.Parse(FullExample);

        Assert.Empty(result.ErrorLines);
        Assert.True(result.IsValid);
        var expected = new ServerOptions
        {
            TrustDomain = TrustDomain.Parse("acme.corp"),
            DataDir = "/var/lib/anchorage/server",
            ServerId = "server-1",
            Datastore = new DatastoreOptions
            {
                Kind = DataStoreKind.Postgres,
                PostgresConnectionString = "Host=127.0.0.1;Database=anchorage;Username=anchorage",
            },
            Listen = new ListenerOptions
            {
                AgentApi = new HostPort("127.0.0.1", 8081),
                AdminSocket = "/run/anchorage/server/admin.sock",
                Health = new HostPort("::1", 8080),
            },
            Ca = new CaOptions
            {
                KeyType = KeyType.EcP384,
                CaTtl = TimeSpan.FromHours(48),
                X509SvidTtl = TimeSpan.FromMinutes(90),
                JwtSvidTtl = TimeSpan.FromMinutes(5),
                Upstream = new UpstreamAuthorityOptions
                {
                    CertFile = "/etc/anchorage/up.crt",
                    KeyFile = "/etc/anchorage/up.key",
                    BundleFile = "/etc/anchorage/up-bundle.pem",
                },
            },
            Bundle = new BundleOptions { RefreshHint = TimeSpan.FromMinutes(10) },
            Federation = new FederationOptions
            {
                RefreshFloor = TimeSpan.FromSeconds(90),
                BundleEndpoint = new BundleEndpointOptions
                {
                    Listen = new HostPort("0.0.0.0", 8443),
                    Profile = BundleEndpointProfile.HttpsWeb,
                    ServingCert = new ServingCertOptions { CertFile = "/etc/anchorage/web.crt", KeyFile = "/etc/anchorage/web.key" },
                },
            },
            AgentApiLimits = new AgentApiLimitOptions
            {
                MaxMessageBytes = 1024 * 1024,
                MaxConnectionsPerPeer = 8,
                RequestBodyDeadline = TimeSpan.FromSeconds(10),
                MaxX509SvidBatch = 20,
                MaxConcurrentSigning = 6,
            },
            AdminUids = [0, 1000],
        };
        // ImmutableArray compares by reference: compare the uids as a sequence, the rest as records.
        Assert.Equal(expected.AdminUids.ToArray(), result.Value.AdminUids.ToArray());
        Assert.Equal(expected, result.Value with { AdminUids = expected.AdminUids });
        Assert.Equal("/run/anchorage/server/admin.sock", result.Value.AdminSocketPath);
        Assert.Equal("[::1]:8080", result.Value.Listen.Health.ToString());
    }

    [Fact]
    public void Load_DocumentedExample_ParsesWithTheDocumentedValues()
    {
        // docs/server.yaml shows every key; if the loader and the document drift apart, this fails.
        var result = ServerConfigLoader.Load(Path.Combine(Processes.RepoRoot(), "docs", "server.yaml"));

        Assert.Empty(result.ErrorLines);
        var options = result.Value!;
        Assert.Equal("acme.corp", options.TrustDomain.Name);
        Assert.Equal("server-1", options.ServerId);
        Assert.Equal(new HostPort("0.0.0.0", 8081), options.Listen.AgentApi);
        Assert.Equal(
            new AgentApiLimitOptions
            {
                MaxMessageBytes = 2 * 1024 * 1024,
                MaxConnectionsPerPeer = 32,
                RequestBodyDeadline = TimeSpan.FromSeconds(30),
                MaxX509SvidBatch = 50,
                MaxConcurrentSigning = 8,
            },
            options.AgentApiLimits);
        Assert.Equal(BundleEndpointProfile.HttpsSpiffe, options.Federation.BundleEndpoint!.Profile);
        Assert.Equal("/var/log/anchorage/server-audit.jsonl", options.Audit!.File);
        Assert.Equal(new ConsoleOptions { Listen = new HostPort("127.0.0.1", 8444), SessionTtl = TimeSpan.FromHours(1) }, options.Console);
    }

    [Fact]
    public void Parse_OnlyTrustDomain_AppliesEveryDefault()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\n");

        Assert.True(result.IsValid);
        var options = result.Value;
        Assert.Equal("acme.corp", options.TrustDomain.Name);
        Assert.Equal("/var/lib/anchorage/server", options.DataDir);
        Assert.Null(options.ServerId);
        Assert.Equal(DataStoreKind.Sqlite, options.Datastore.Kind);
        Assert.Null(options.Datastore.SqlitePath);
        Assert.Equal("/var/lib/anchorage/server/datastore.db", options.Datastore.SqlitePathIn(options.DataDir));
        Assert.Null(options.Datastore.PostgresConnectionString);
        Assert.Equal(new HostPort("127.0.0.1", 8081), options.Listen.AgentApi);
        Assert.Null(options.Listen.AdminSocket);
        Assert.Equal("/var/lib/anchorage/server/admin.sock", options.AdminSocketPath);
        Assert.Equal(new HostPort("127.0.0.1", 8080), options.Listen.Health);
        Assert.Equal(KeyType.EcP256, options.Ca.KeyType);
        Assert.Equal(TimeSpan.FromHours(24), options.Ca.CaTtl);
        Assert.Equal(TimeSpan.FromHours(1), options.Ca.X509SvidTtl);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Ca.JwtSvidTtl);
        Assert.Null(options.Ca.Upstream);
        Assert.Equal(TimeSpan.FromMinutes(5), options.Bundle.RefreshHint);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Federation.RefreshFloor);
        Assert.Null(options.Federation.BundleEndpoint);
        Assert.Null(options.Console);
        Assert.Equal(2 * 1024 * 1024, options.AgentApiLimits.MaxMessageBytes);
        Assert.Equal(32, options.AgentApiLimits.MaxConnectionsPerPeer);
        Assert.Equal(TimeSpan.FromSeconds(30), options.AgentApiLimits.RequestBodyDeadline);
        Assert.Equal(50, options.AgentApiLimits.MaxX509SvidBatch);
        Assert.Equal(2 * Environment.ProcessorCount, options.AgentApiLimits.MaxConcurrentSigning);
        Assert.Equal([0u], options.AdminUids.ToArray());
    }

    [Fact]
    public void Parse_OnlyTrustDomain_EqualsTheRecordDefaults()
    {
        var parsed = ServerConfigLoader.Parse("trustDomain: acme.corp\n").Value!;
        var constructed = new ServerOptions { TrustDomain = TrustDomain.Parse("acme.corp") };

        Assert.Equal(constructed, parsed with { AdminUids = constructed.AdminUids });
        Assert.Equal(constructed.AdminUids.ToArray(), parsed.AdminUids.ToArray());
    }

    [Fact]
    public void Parse_DataDirGiven_DerivesSocketAndDatabasePaths()
    {
        var options = ServerConfigLoader.Parse("trustDomain: acme.corp\ndataDir: /srv/anchorage\n").Value!;

        Assert.Equal("/srv/anchorage/admin.sock", options.AdminSocketPath);
        Assert.Equal("/srv/anchorage/datastore.db", options.Datastore.SqlitePathIn(options.DataDir));
    }

    [Fact]
    public void Parse_SqlitePathGiven_UsesIt()
    {
        var options = ServerConfigLoader.Parse("trustDomain: acme.corp\ndatastore:\n  sqlite:\n    path: /data/x.db\n").Value!;

        Assert.Equal(DataStoreKind.Sqlite, options.Datastore.Kind);
        Assert.Equal("/data/x.db", options.Datastore.SqlitePathIn(options.DataDir));
    }

    [Theory]
    [InlineData("localhost:0", "localhost", 0)]
    [InlineData("0.0.0.0:65535", "0.0.0.0", 65535)]
    [InlineData("[::]:8081", "::", 8081)]
    [InlineData("[fe80::1]:1", "fe80::1", 1)]
    public void Parse_AgentApiForms_Accepted(string value, string host, int port)
    {
        var result = ServerConfigLoader.Parse($"trustDomain: acme.corp\nlisten:\n  agentApi: \"{value}\"\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(new HostPort(host, port), result.Value!.Listen.AgentApi);
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("1h30m", 5400)]
    [InlineData("7d", 604800)]
    [InlineData("1d2h3m4s", 93784)]
    public void Parse_DurationForms_Accepted(string value, int seconds)
    {
        var result = ServerConfigLoader.Parse($"trustDomain: acme.corp\nbundle:\n  refreshHint: {value}\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(TimeSpan.FromSeconds(seconds), result.Value!.Bundle.RefreshHint);
    }

    public static TheoryData<string, string[]> BrokenConfigs => new()
    {
        {
            "dataDir: /var/lib/anchorage\n",
            ["server.yaml: trustDomain: required"]
        },
        {
            "",
            ["server.yaml: trustDomain: required"]
        },
        {
            "trustDomain: ACME.corp\n",
            ["server.yaml:1: trustDomain: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase"]
        },
        {
            "trustDomain: acme.corp:443\n",
            ["server.yaml:1: trustDomain: trust domain cannot contain a port"]
        },
        {
            "trustDomain: [a, b]\n",
            ["server.yaml:1: trustDomain: must be a single value, not a list"]
        },
        {
            "trustDomain: acme.corp\nunknownKey: 1\n",
            ["server.yaml:2: unknownKey: unknown setting"]
        },
        {
            "trustDomain: acme.corp\ntrust_domain: acme.corp\n",
            ["server.yaml:2: trust_domain: unknown setting; did you mean trustDomain?"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTTL: 1h\n",
            ["server.yaml:3: ca.caTTL: unknown setting; did you mean caTtl?"]
        },
        {
            "trustDomain: acme.corp\ndataDir: var/lib/anchorage\n",
            ["server.yaml:2: dataDir: \"var/lib/anchorage\" must be an absolute path"]
        },
        {
            "trustDomain: acme.corp\nserverId: Server 1\n",
            ["server.yaml:2: serverId: \"Server 1\" must be 1 to 64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit"]
        },
        {
            "trustDomain: acme.corp\ndatastore:\n  postgres: {}\n",
            ["server.yaml:3: datastore.postgres.connectionString: required"]
        },
        {
            "trustDomain: acme.corp\ndatastore:\n  postgres:\n    connectionString: \"Password=hunter2;Port=abc\"\n",
            ["server.yaml:4: datastore.postgres.connectionString: is not a valid PostgreSQL connection string"]
        },
        {
            "trustDomain: acme.corp\ndatastore:\n  sqlite: {}\n  postgres:\n    connectionString: Host=db\n",
            ["server.yaml:4: datastore: set only one of sqlite and postgres"]
        },
        {
            "trustDomain: acme.corp\ndatastore:\n  mysql: {}\n",
            ["server.yaml:3: datastore.mysql: unknown setting"]
        },
        {
            "trustDomain: acme.corp\ndatastore: sqlite\n",
            ["server.yaml:2: datastore: must be a mapping of settings"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  agentApi: 8081\n",
            ["server.yaml:3: listen.agentApi: must be host:port"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  agentApi: \"::1:8081\"\n",
            ["server.yaml:3: listen.agentApi: an IPv6 address must be in brackets, e.g. [::1]:8081"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  agentApi: example.com:8081\n",
            ["server.yaml:3: listen.agentApi: host \"example.com\" must be an IP address or localhost"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  agentApi: 10.1:8081\n",
            ["server.yaml:3: listen.agentApi: host \"10.1\" must be an IP address or localhost"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  health: \"[127.0.0.1]:8080\"\n",
            ["server.yaml:3: listen.health: host \"127.0.0.1\" in brackets must be an IPv6 address"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  health: 127.0.0.1:65536\n",
            ["server.yaml:3: listen.health: port \"65536\" must be a number from 0 to 65535"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  health: 127.0.0.1:8081\n",
            ["server.yaml:3: listen.health: must differ from listen.agentApi"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  adminSocket: admin.sock\n",
            ["server.yaml:3: listen.adminSocket: \"admin.sock\" must be an absolute path"]
        },
        {
            $"trustDomain: acme.corp\ndataDir: /{new string('d', 100)}\n",
            [$"server.yaml:2: listen.adminSocket: \"/{new string('d', 59)}...\" is longer than 107 bytes, the limit of a unix socket path"]
        },
        {
            "trustDomain: acme.corp\nca:\n  keyType: ed25519\n",
            ["server.yaml:3: ca.keyType: \"ed25519\" is not one of ec-p256, ec-p384, rsa-2048"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: abc\n",
            ["server.yaml:3: ca.caTtl: \"abc\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 60\n",
            ["server.yaml:3: ca.caTtl: \"60\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 30m1h\n",
            ["server.yaml:3: ca.caTtl: \"30m1h\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 1.5h\n",
            ["server.yaml:3: ca.caTtl: \"1.5h\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 0s\n",
            ["server.yaml:3: ca.caTtl: must be longer than 0s"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 24h\n  x509SvidTtl: 5h\n",
            ["server.yaml:4: ca.x509SvidTtl: must be at most ca.caTtl / 6 (4h)"]
        },
        {
            // The defaults (1h, 5m) are checked against a short caTtl too, at the caTtl line.
            "trustDomain: acme.corp\nca:\n  caTtl: 1h\n",
            ["server.yaml:3: ca.x509SvidTtl: must be at most ca.caTtl / 6 (10m)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  caTtl: 7d\n  jwtSvidTtl: 2d\n",
            ["server.yaml:4: ca.jwtSvidTtl: must be at most ca.caTtl / 6 (1d4h)"]
        },
        {
            "trustDomain: acme.corp\nca:\n  upstream:\n    bundleFile: bundle.pem\n",
            [
                "server.yaml:3: ca.upstream.certFile: required",
                "server.yaml:3: ca.upstream.keyFile: required",
                "server.yaml:4: ca.upstream.bundleFile: \"bundle.pem\" must be an absolute path",
            ]
        },
        {
            "trustDomain: acme.corp\nbundle:\n  refreshHint: 5 minutes\n",
            ["server.yaml:3: bundle.refreshHint: \"5 minutes\" is not a duration (e.g. 90s, 5m, 24h)"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  refreshFloor: 500ms\n",
            ["server.yaml:3: federation.refreshFloor: must be at least 1s"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint: {}\n",
            [
                "server.yaml:3: federation.bundleEndpoint.listen: required",
                "server.yaml:3: federation.bundleEndpoint.profile: required",
            ]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint: 8443\n",
            ["server.yaml:3: federation.bundleEndpoint: must be a mapping of settings"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8443\n    profile: https\n",
            ["server.yaml:5: federation.bundleEndpoint.profile: \"https\" is not one of https_spiffe, https_web"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8443\n    profile: https_web\n",
            ["server.yaml:5: federation.bundleEndpoint.servingCert: required with profile https_web"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8443\n    profile: https_spiffe\n    servingCert: { certFile: /a.crt, keyFile: /a.key }\n",
            ["server.yaml:6: federation.bundleEndpoint.servingCert: must not be set with profile https_spiffe (the server's own svid is served)"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8443\n    profile: https_web\n    servingCert:\n      certFile: web.crt\n",
            [
                "server.yaml:6: federation.bundleEndpoint.servingCert.keyFile: required",
                "server.yaml:7: federation.bundleEndpoint.servingCert.certFile: \"web.crt\" must be an absolute path",
            ]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8443\n    profile: https_web\n    servingCert: { certFile: /a.crt, keyFile: /a.key, chainFile: /b.crt }\n",
            ["server.yaml:6: federation.bundleEndpoint.servingCert.chainFile: unknown setting"]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 8443\n    profile: https_spiffe\n    url: https://acme.corp/\n",
            [
                "server.yaml:4: federation.bundleEndpoint.listen: must be host:port",
                "server.yaml:6: federation.bundleEndpoint.url: unknown setting",
            ]
        },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 127.0.0.1:8081\n    profile: https_spiffe\n",
            ["server.yaml:4: federation.bundleEndpoint.listen: must differ from listen.agentApi"]
        },
        {
            // A wildcard address collides with any host on the same port.
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint:\n    listen: 0.0.0.0:8080\n    profile: https_spiffe\n",
            ["server.yaml:4: federation.bundleEndpoint.listen: must differ from listen.health"]
        },
        {
            "trustDomain: acme.corp\nlisten:\n  health: \"[::]:9090\"\nfederation:\n  bundleEndpoint:\n    listen: \"[::1]:9090\"\n    profile: https_spiffe\n",
            ["server.yaml:6: federation.bundleEndpoint.listen: must differ from listen.health"]
        },
        {
            "trustDomain: acme.corp\nagentApiLimits:\n  maxMessageBytes: 1024\n  maxConnectionsPerPeer: 0\n  requestBodyDeadline: 500ms\n  maxX509SvidBatch: 501\n  maxConcurrentSigning: many\n  minDataRate: 1\n",
            [
                "server.yaml:3: agentApiLimits.maxMessageBytes: \"1024\" must be a number from 65536 to 67108864",
                "server.yaml:4: agentApiLimits.maxConnectionsPerPeer: \"0\" must be a number from 1 to 65536",
                "server.yaml:5: agentApiLimits.requestBodyDeadline: must be from 1s to 10m",
                "server.yaml:6: agentApiLimits.maxX509SvidBatch: \"501\" must be a number from 1 to 500",
                "server.yaml:7: agentApiLimits.maxConcurrentSigning: \"many\" must be a number from 1 to 65536",
                "server.yaml:8: agentApiLimits.minDataRate: unknown setting",
            ]
        },
        {
            "trustDomain: acme.corp\nagentApiLimits:\n  requestBodyDeadline: 11m\n",
            ["server.yaml:3: agentApiLimits.requestBodyDeadline: must be from 1s to 10m"]
        },
        {
            "trustDomain: acme.corp\nadminUids: 0\n",
            ["server.yaml:2: adminUids: must be a list"]
        },
        {
            "trustDomain: acme.corp\nadminUids: []\n",
            ["server.yaml:2: adminUids: must list at least one uid"]
        },
        {
            "trustDomain: acme.corp\nadminUids:\n  - 0\n  - -1\n  - root\n  - 4294967295\n",
            [
                "server.yaml:4: adminUids[1]: \"-1\" is not a uid (a number from 0 to 4294967294)",
                "server.yaml:5: adminUids[2]: \"root\" is not a uid (a number from 0 to 4294967294)",
                "server.yaml:6: adminUids[3]: \"4294967295\" is not a uid (a number from 0 to 4294967294)",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(BrokenConfigs))]
    public void Parse_BrokenConfig_ReportsExactErrors(string yaml, string[] expected)
    {
        var result = ServerConfigLoader.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Null(result.Value);
        Assert.Equal(expected, result.ErrorLines);
    }

    [Fact]
    public void Parse_ManyMistakes_ReportsEveryErrorInFileOrder()
    {
        const string yaml = """
            dataDir: relative
            listen:
              agentApi: nowhere
              colour: blue
            ca:
              caTtl: abc
              x509SvidTtl: 2d
            adminUids: [x]
            """;

        var result = ServerConfigLoader.Parse(yaml);

        Assert.Equal(
            [
                "server.yaml:1: dataDir: \"relative\" must be an absolute path",
                "server.yaml:3: listen.agentApi: must be host:port",
                "server.yaml:4: listen.colour: unknown setting",
                "server.yaml:6: ca.caTtl: \"abc\" is not a duration (e.g. 90s, 5m, 24h)",
                "server.yaml:8: adminUids[0]: \"x\" is not a uid (a number from 0 to 4294967294)",
                "server.yaml: trustDomain: required",
            ],
            result.ErrorLines);
    }

    [Fact]
    public void Parse_ErrorsAfterAFix_ControlParses()
    {
        // Positive control for the table: the same keys with valid values parse.
        const string yaml = """
            trustDomain: acme.corp
            dataDir: /srv/a
            listen:
              agentApi: 0.0.0.0:8081
            ca:
              caTtl: 12d
              x509SvidTtl: 2d
            adminUids: [0]
            """;

        var result = ServerConfigLoader.Parse(yaml);

        Assert.Empty(result.ErrorLines);
        Assert.Equal(TimeSpan.FromDays(2), result.Value!.Ca.X509SvidTtl);
    }

    public static TheoryData<string, string, int, BundleEndpointProfile, string?> BundleEndpointControls => new()
    {
        // The table's bundle endpoint rows with the defect switched off.
        { "listen: 0.0.0.0:8443\n    profile: https_spiffe", "0.0.0.0", 8443, BundleEndpointProfile.HttpsSpiffe, null },
        { "listen: 127.0.0.1:8082\n    profile: https_spiffe", "127.0.0.1", 8082, BundleEndpointProfile.HttpsSpiffe, null },
        { "listen: \"[::1]:9091\"\n    profile: https_spiffe", "::1", 9091, BundleEndpointProfile.HttpsSpiffe, null },
        { "listen: 0.0.0.0:8443\n    profile: https_web\n    servingCert: { certFile: /a.crt, keyFile: /a.key }", "0.0.0.0", 8443, BundleEndpointProfile.HttpsWeb, "/a.crt" },
    };

    [Theory]
    [MemberData(nameof(BundleEndpointControls))]
    public void Parse_BundleEndpointValid_ReturnsIt(string body, string host, int port, BundleEndpointProfile profile, string? certFile)
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\nlisten:\n  health: \"[::]:9090\"\nfederation:\n  bundleEndpoint:\n    " + body + "\n");

        Assert.Empty(result.ErrorLines);
        var endpoint = result.Value!.Federation.BundleEndpoint!;
        Assert.Equal(new HostPort(host, port), endpoint.Listen);
        Assert.Equal(profile, endpoint.Profile);
        Assert.Equal(certFile, endpoint.ServingCert?.CertFile);
        Assert.Equal(TimeSpan.FromMinutes(1), result.Value.Federation.RefreshFloor);
    }

    [Fact]
    public void Parse_BundleEndpointOnPortZero_AllowedBesideOtherPortZeroListeners()
    {
        var result = ServerConfigLoader.Parse(
            "trustDomain: acme.corp\nlisten:\n  agentApi: 127.0.0.1:0\n  health: 127.0.0.1:0\nfederation:\n  bundleEndpoint:\n    listen: 127.0.0.1:0\n    profile: https_spiffe\n");

        Assert.Empty(result.ErrorLines);
        Assert.Equal(new HostPort("127.0.0.1", 0), result.Value!.Federation.BundleEndpoint!.Listen);
    }

    public static TheoryData<string, string> MalformedYaml => new()
    {
        { "trustDomain: acme.corp\nca:\n  caTtl: 1h\n   x509SvidTtl: 1h\n", "server.yaml:4:15: while scanning a plain scalar value, found invalid mapping" },
        { "trustDomain: acme.corp\ntrustDomain: other\n", "server.yaml:2:1: duplicate key trustDomain" },
        { "trustDomain: \"acme.corp\n", "server.yaml:1:14: while scanning a quoted scalar, found unexpected end of stream" },
        { "- a\n- b\n", "server.yaml:1:1: the file must be a mapping of settings (key: value)" },
        { "trustDomain: a\n---\ntrustDomain: b\n", "server.yaml:3:1: expected one YAML document, found more" },
    };

    [Theory]
    [MemberData(nameof(MalformedYaml))]
    public void Parse_MalformedYaml_ReportsOneLineWithColumn(string yaml, string expected)
    {
        var result = ServerConfigLoader.Parse(yaml);

        Assert.Equal(expected, Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void Parse_SourceName_PrefixesMessages()
    {
        var result = ServerConfigLoader.Parse("trustDomain: x\nfoo: 1\n", "/etc/anchorage/server.yaml");

        Assert.Equal(["/etc/anchorage/server.yaml:2: foo: unknown setting"], result.ErrorLines);
    }

    [Fact]
    public void Load_File_ParsesAndNamesThePath()
    {
        using var dir = new TempDir();
        var good = Path.Join(dir.Path, "server.yaml");
        var bad = Path.Join(dir.Path, "bad.yaml");
        File.WriteAllText(good, FullExample);
        File.WriteAllText(bad, "trustDomain: acme.corp\nca: {caTtl: x}\n");

        Assert.True(ServerConfigLoader.Load(good).IsValid);
        Assert.Equal([$"{bad}:2: ca.caTtl: \"x\" is not a duration (e.g. 90s, 5m, 24h)"], ServerConfigLoader.Load(bad).ErrorLines);
    }

    [Fact]
    public void Load_MissingFile_ReportsFileNotFound()
    {
        using var dir = new TempDir();
        var path = Path.Join(dir.Path, "absent.yaml");

        Assert.Equal([$"{path}: file not found"], ServerConfigLoader.Load(path).ErrorLines);
    }

    [Fact]
    public void ToString_PostgresOptions_RedactsTheConnectionString()
    {
        var options = ServerConfigLoader.Parse(
            "trustDomain: acme.corp\ndatastore:\n  postgres:\n    connectionString: \"Host=db;Password=hunter2\"\n").Value!;

        Assert.Equal("Host=db;Password=hunter2", options.Datastore.PostgresConnectionString);
        Assert.DoesNotContain("hunter2", options.ToString(), StringComparison.Ordinal);
        Assert.Contains("PostgresConnectionString = (redacted)", options.ToString(), StringComparison.Ordinal);
    }
}
