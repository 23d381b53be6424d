using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Logging;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Federation;
using Npgsql;

namespace Anchorage.Server.Config;

/// <summary>
/// Reads <c>server.yaml</c> (camelCase keys) into <see cref="ServerOptions"/>. Bad input never
/// throws: the result carries every error at once, each with its key path and line, e.g.
/// <c>server.yaml:12: ca.caTtl: "abc" is not a duration (e.g. 90s, 5m, 24h)</c>.
/// </summary>
public static partial class ServerConfigLoader
{
    /// <summary>The name used in messages when <see cref="Parse"/> is given no other.</summary>
    public const string DefaultSourceName = "server.yaml";

    /// <summary>The highest uid accepted in <c>adminUids</c> ((uid_t)-1 means "no uid").</summary>
    public const uint MaxUid = AdminUids.MaxUid;

    /// <summary>Unix sockets paths are limited by <c>sun_path</c> (108 bytes with the terminating NUL).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>Reads and parses the file at <paramref name="path"/>; messages name the file as given.</summary>
    public static ConfigResult<ServerOptions> Load(string path) => ConfigFile.Load(path, Parse);

    /// <summary>Parses YAML text; <paramref name="sourceName"/> prefixes every message.</summary>
    public static ConfigResult<ServerOptions> Parse(string yaml, string sourceName = DefaultSourceName)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        var errors = new ConfigErrorList(sourceName);
        var root = ConfigMap.Load(yaml, errors);
        if (root is null)
        {
            return new ConfigResult<ServerOptions>(errors.ToImmutable());
        }

        var trustDomain = root.GetRequired("trustDomain")?.TrustDomain() ?? default;
        var dataDirNode = root.Get("dataDir");
        var dataDir = dataDirNode?.AbsolutePath() ?? ServerOptions.DefaultDataDir;
        var serverId = ReadServerId(root);
        var datastore = ReadDatastore(root.Section("datastore"));
        var listen = ReadListen(root.Section("listen"), dataDir, dataDirNode?.Line);
        var ca = ReadCa(root.Section("ca"));
        var bundle = ReadBundle(root.Section("bundle"));
        var federation = ReadFederation(root.Section("federation"), listen);
        var console = ReadConsole(root.Get("console"), listen, federation.BundleEndpoint);
        var agentApiLimits = Internal.AgentApiLimitConfig.Read(root.Section("agentApiLimits"));
        var governance = Internal.GovernanceConfig.Read(root.Section("governance"));
        var adminUids = ReadAdminUids(root);
        var audit = AuditConfig.Read(root.Get("audit"));
        var logging = LoggingConfig.Read(root.Get("logging"));
        root.RejectUnknownKeys();

        if (!errors.IsEmpty)
        {
            return new ConfigResult<ServerOptions>(errors.ToImmutable());
        }

        return new ConfigResult<ServerOptions>(new ServerOptions
        {
            TrustDomain = trustDomain,
            DataDir = dataDir,
            ServerId = serverId,
            Datastore = datastore,
            Listen = listen,
            Ca = ca,
            Bundle = bundle,
            Federation = federation,
            AgentApiLimits = agentApiLimits,
            Governance = governance,
            AdminUids = adminUids,
            Audit = audit,
            Logging = logging,
            Console = console,
        });
    }

    private static string? ReadServerId(ConfigMap root)
    {
        var node = root.Get("serverId");
        var text = node?.Scalar();
        if (node is null || text is null)
        {
            return null;
        }

        if (ServerIdFile.IsValid(text))
        {
            return text;
        }

        node.Error($"{ConfigText.Quote(text)} must be 1 to 64 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit");
        return null;
    }

    private static DatastoreOptions ReadDatastore(ConfigMap section)
    {
        var sqliteNode = section.Get("sqlite");
        var postgresNode = section.Get("postgres");
        var sqlite = sqliteNode?.Map();
        var postgres = postgresNode?.Map();
        string? sqlitePath = null;
        string? connectionString = null;
        if (sqlite is not null)
        {
            sqlitePath = sqlite.Get("path")?.AbsolutePath();
            sqlite.RejectUnknownKeys();
        }

        if (postgres is not null)
        {
            var node = postgres.Get("connectionString");
            if (node is null)
            {
                postgres.Required("connectionString");
            }
            else if (node.Scalar() is { } text)
            {
                connectionString = ValidateConnectionString(node, text);
            }

            postgres.RejectUnknownKeys();
        }

        if (sqliteNode is not null && postgresNode is not null)
        {
            section.Errors.Add(section.Path, "set only one of sqlite and postgres", postgresNode.Line);
        }

        section.RejectUnknownKeys();
        return postgresNode is not null
            ? new DatastoreOptions { Kind = DataStoreKind.Postgres, PostgresConnectionString = connectionString }
            : new DatastoreOptions { Kind = DataStoreKind.Sqlite, SqlitePath = sqlitePath };
    }

    // The string may hold a password: messages never quote it.
    private static string? ValidateConnectionString(ConfigNode node, string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            node.Error("must not be empty");
            return null;
        }

        try
        {
            _ = new NpgsqlConnectionStringBuilder(text);
            return text;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            node.Error("is not a valid PostgreSQL connection string");
            return null;
        }
    }

    private static ListenerOptions ReadListen(ConfigMap section, string dataDir, int? dataDirLine)
    {
        var agentApi = section.Get("agentApi")?.Endpoint();
        var adminSocketNode = section.Get("adminSocket");
        var adminSocket = adminSocketNode?.AbsolutePath();
        var healthNode = section.Get("health");
        var health = healthNode?.Endpoint();
        section.RejectUnknownKeys();

        var socketPath = adminSocket ?? Path.Join(dataDir, "admin.sock");
        if (Encoding.UTF8.GetByteCount(socketPath) > MaxSocketPathBytes)
        {
            section.Errors.Add(
                section.PathOf("adminSocket"),
                string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(socketPath)} is longer than {MaxSocketPathBytes} bytes, the limit of a unix socket path"),
                adminSocketNode?.Line ?? dataDirLine);
        }

        var options = new ListenerOptions
        {
            AgentApi = agentApi ?? ListenerOptions.DefaultAgentApi,
            AdminSocket = adminSocket,
            Health = health ?? ListenerOptions.DefaultHealth,
        };
        if (options.AgentApi.Port != 0 && options.AgentApi == options.Health)
        {
            section.Errors.Add(section.PathOf("health"), "must differ from listen.agentApi", healthNode?.Line ?? section.Line);
        }

        return options;
    }

    private static CaOptions ReadCa(ConfigMap section)
    {
        var defaults = new CaOptions();
        var keyType = ReadKeyType(section.Get("keyType"));
        var caTtlNode = section.Get("caTtl");
        var caTtl = Positive(caTtlNode);
        var x509Node = section.Get("x509SvidTtl");
        var x509 = Positive(x509Node);
        var jwtNode = section.Get("jwtSvidTtl");
        var jwt = Positive(jwtNode);
        var upstream = ReadUpstream(section.Get("upstream"));
        section.RejectUnknownKeys();

        var options = new CaOptions
        {
            KeyType = keyType ?? defaults.KeyType,
            CaTtl = caTtl ?? defaults.CaTtl,
            X509SvidTtl = x509 ?? defaults.X509SvidTtl,
            JwtSvidTtl = jwt ?? defaults.JwtSvidTtl,
            Upstream = upstream,
        };

        // Only when every lifetime involved is valid, so one bad value gives one error.
        var cap = options.CaTtl / 6;
        if (caTtlNode is null || caTtl is not null)
        {
            CheckCap(section, "x509SvidTtl", x509Node, x509, options.X509SvidTtl, cap, caTtlNode);
            CheckCap(section, "jwtSvidTtl", jwtNode, jwt, options.JwtSvidTtl, cap, caTtlNode);
        }

        return options;
    }

    private static void CheckCap(ConfigMap section, string key, ConfigNode? node, TimeSpan? parsed, TimeSpan value, TimeSpan cap, ConfigNode? caTtlNode)
    {
        if ((node is null || parsed is not null) && value > cap)
        {
            section.Errors.Add(
                section.PathOf(key),
                $"must be at most {section.PathOf("caTtl")} / 6 ({Durations.Format(cap)})",
                node?.Line ?? caTtlNode?.Line ?? section.Line);
        }
    }

    private static KeyType? ReadKeyType(ConfigNode? node)
    {
        var text = node?.Scalar();
        if (node is null || text is null)
        {
            return null;
        }

        // One list of key type names: the CA engine's.
        if (KeyTypeNames.TryParse(text, out var keyType))
        {
            return keyType;
        }

        node.Error($"{ConfigText.Quote(text)} is not one of ec-p256, ec-p384, rsa-2048");
        return null;
    }

    private static UpstreamAuthorityOptions? ReadUpstream(ConfigNode? node)
    {
        var section = node?.Map();
        if (section is null)
        {
            return null;
        }

        var files = ReadCertAndKeyFiles(section);
        var bundle = section.Get("bundleFile")?.AbsolutePath();
        section.RejectUnknownKeys();
        return files is not { } f ? null : new UpstreamAuthorityOptions { CertFile = f.Cert, KeyFile = f.Key, BundleFile = bundle };
    }

    private static BundleOptions ReadBundle(ConfigMap section)
    {
        var hint = Positive(section.Get("refreshHint"));
        section.RejectUnknownKeys();
        return hint is null ? new BundleOptions() : new BundleOptions { RefreshHint = hint.Value };
    }

    private static FederationOptions ReadFederation(ConfigMap section, ListenerOptions listen)
    {
        var node = section.Get("refreshFloor");
        var floor = node?.Duration();
        var endpoint = ReadBundleEndpoint(section.Get("bundleEndpoint"), listen);
        var requireApproval = section.Get("requireApproval")?.Boolean();
        section.RejectUnknownKeys();
        if (floor is { } value && value < FederationOptions.MinRefreshFloor)
        {
            node!.Error($"must be at least {Durations.Format(FederationOptions.MinRefreshFloor)}");
            floor = null;
        }

        return new FederationOptions
        {
            RefreshFloor = floor ?? new FederationOptions().RefreshFloor,
            BundleEndpoint = endpoint,
            RequireApproval = requireApproval ?? true,
        };
    }

    private static BundleEndpointOptions? ReadBundleEndpoint(ConfigNode? node, ListenerOptions listen)
    {
        var section = node?.Map();
        if (section is null)
        {
            return null;
        }

        var (listenNode, address, certNode, servingCert) = ReadServedListener(section);
        var profileNode = section.Get("profile");
        var profile = ReadProfile(profileNode);
        RejectUnknownKeysAndRequireListen(section, listenNode);
        if (profileNode is null)
        {
            section.Required("profile");
        }

        if (address is not null)
        {
            CollidesWithServerListeners(listenNode!, address, listen);
        }

        if (profile == BundleEndpointProfile.HttpsWeb && certNode is null)
        {
            section.Errors.Add(section.PathOf("servingCert"), "required with profile https_web", profileNode!.Line);
        }
        else if (profile == BundleEndpointProfile.HttpsSpiffe && certNode is not null)
        {
            certNode.Error("must not be set with profile https_spiffe (the server's own svid is served)");
        }

        return address is null || profile is null || (profile == BundleEndpointProfile.HttpsWeb && servingCert is null)
            ? null
            : new BundleEndpointOptions { Listen = address, Profile = profile.Value, ServingCert = servingCert };
    }

    /// <summary>
    /// The keys of a section that serves a listener of its own (<c>federation.bundleEndpoint</c>,
    /// <c>console</c>): <c>listen</c> and <c>servingCert</c>, read before the section's own keys.
    /// </summary>
    private static (ConfigNode? ListenNode, HostPort? Address, ConfigNode? CertNode, ServingCertOptions? ServingCert) ReadServedListener(ConfigMap section)
    {
        var listenNode = section.Get("listen");
        var address = listenNode?.Endpoint();
        var certNode = section.Get("servingCert");
        return (listenNode, address, certNode, ReadServingCert(certNode));
    }

    /// <summary>Once every key of a served listener's section is read: the unknown keys, then a missing <c>listen</c>.</summary>
    private static void RejectUnknownKeysAndRequireListen(ConfigMap section, ConfigNode? listenNode)
    {
        section.RejectUnknownKeys();
        if (listenNode is null)
        {
            section.Required("listen");
        }
    }

    private static BundleEndpointProfile? ReadProfile(ConfigNode? node)
    {
        var text = node?.Scalar();
        if (text is null)
        {
            return null;
        }

        if (BundleEndpointProfiles.TryParse(text, out var profile))
        {
            return profile;
        }

        node!.Error($"{ConfigText.Quote(text)} is not one of {BundleEndpointProfiles.HttpsSpiffe}, {BundleEndpointProfiles.HttpsWeb}");
        return null;
    }

    private static ServingCertOptions? ReadServingCert(ConfigNode? node)
    {
        var section = node?.Map();
        if (section is null)
        {
            return null;
        }

        var files = ReadCertAndKeyFiles(section);
        section.RejectUnknownKeys();
        return files is not { } f ? null : new ServingCertOptions { CertFile = f.Cert, KeyFile = f.Key };
    }

    /// <summary><c>certFile</c> and <c>keyFile</c>, both required absolute paths; null when either is missing or wrong (reported).</summary>
    private static (string Cert, string Key)? ReadCertAndKeyFiles(ConfigMap section)
    {
        var cert = section.GetRequired("certFile")?.AbsolutePath();
        var key = section.GetRequired("keyFile")?.AbsolutePath();
        return cert is null || key is null ? null : (cert, key);
    }

    /// <summary>
    /// Reports <c>must differ from listen.agentApi</c> (or <c>listen.health</c>) against
    /// <paramref name="listenNode"/> when <paramref name="address"/> takes the port of one of the
    /// server's own listeners; true when it did.
    /// </summary>
    private static bool CollidesWithServerListeners(ConfigNode listenNode, HostPort address, ListenerOptions listen)
    {
        if (Overlaps(address, listen.AgentApi))
        {
            listenNode.Error("must differ from listen.agentApi");
            return true;
        }

        if (Overlaps(address, listen.Health))
        {
            listenNode.Error("must differ from listen.health");
            return true;
        }

        return false;
    }

    // Two listen addresses collide on the same fixed port when their hosts are equal or either is a wildcard.
    private static bool Overlaps(HostPort a, HostPort b) =>
        a.Port != 0 && a.Port == b.Port
        && (string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) || IsWildcard(a) || IsWildcard(b));

    private static bool IsWildcard(HostPort address) =>
        !address.IsLocalhost && System.Net.IPAddress.TryParse(address.Host, out var ip)
        && (ip.Equals(System.Net.IPAddress.Any) || ip.Equals(System.Net.IPAddress.IPv6Any));

    private static ImmutableArray<uint> ReadAdminUids(ConfigMap root) => AdminUids.Read(root);

    private static TimeSpan? Positive(ConfigNode? node)
    {
        var value = node?.Duration();
        if (node is null || value is null)
        {
            return null;
        }

        if (value.Value <= TimeSpan.Zero)
        {
            node.Error("must be longer than 0s");
            return null;
        }

        return value;
    }
}
