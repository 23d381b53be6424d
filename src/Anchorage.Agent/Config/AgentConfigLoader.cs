using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Logging;

namespace Anchorage.Agent.Config;

/// <summary>
/// Reads <c>agent.yaml</c> (camelCase keys) into <see cref="AgentOptions"/>. Bad input never
/// throws: the result carries every error at once, each with its key path and line, e.g.
/// <c>agent.yaml:3: serverAddress: port "0" must be a number from 1 to 65535</c>. The join
/// token is never quoted in a message.
/// </summary>
public static partial class AgentConfigLoader
{
    /// <summary>The name used in messages when <see cref="Parse"/> is given no other.</summary>
    public const string DefaultSourceName = "agent.yaml";

    /// <summary>The highest uid accepted in <c>adminUids</c> ((uid_t)-1 means "no uid").</summary>
    public const uint MaxUid = AdminUids.MaxUid;

    /// <summary>Unix socket paths are limited by <c>sun_path</c> (108 bytes with the terminating NUL).</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>The highest <c>workloadApi.maxStreamsPerCaller</c> accepted (the lowest is 1).</summary>
    public const int MaxStreamsPerCallerLimit = 1024;

    /// <summary>The highest <c>maxConnections</c> and <c>maxConnectionsPerUid</c> accepted (workloadApi, gate; the lowest is 1).</summary>
    public const int MaxConnectionsLimit = 65536;

    /// <summary>The highest <c>workloadApi.requestsPerSecondPerUid</c> accepted (the lowest is 1).</summary>
    public const int MaxRequestsPerSecondLimit = 1_000_000;

    /// <summary>The shortest <c>workloadApi.idleTimeout</c> accepted.</summary>
    public static readonly TimeSpan MinIdleTimeout = TimeSpan.FromSeconds(1);

    /// <summary>The longest <c>workloadApi.idleTimeout</c> accepted.</summary>
    public static readonly TimeSpan MaxIdleTimeout = TimeSpan.FromHours(1);

    /// <summary>The longest <c>gate.idleTimeout</c> accepted (a proxied connection may idle longer than a Workload API one).</summary>
    public static readonly TimeSpan MaxGateIdleTimeout = TimeSpan.FromHours(24);

    /// <summary>The shortest <c>syncInterval</c> accepted.</summary>
    public static readonly TimeSpan MinSyncInterval = TimeSpan.FromSeconds(1);

    /// <summary>The longest <c>syncInterval</c> accepted.</summary>
    public static readonly TimeSpan MaxSyncInterval = TimeSpan.FromMinutes(10);

    // The server's join tokens: 8 random bytes as lowercase hex, a dot, 32 random bytes as unpadded base64url.
    private const int JoinTokenIdChars = 16;
    private const int JoinTokenSecretChars = 43;

    /// <summary>Reads and parses the file at <paramref name="path"/>; messages name the file as given.</summary>
    public static ConfigResult<AgentOptions> Load(string path) => ConfigFile.Load(path, Parse);

    /// <summary>Parses YAML text; <paramref name="sourceName"/> prefixes every message.</summary>
    public static ConfigResult<AgentOptions> Parse(string yaml, string sourceName = DefaultSourceName)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(sourceName);
        var errors = new ConfigErrorList(sourceName);
        var root = ConfigMap.Load(yaml, errors);
        if (root is null)
        {
            return new ConfigResult<AgentOptions>(errors.ToImmutable());
        }

        var trustDomain = root.GetRequired("trustDomain")?.TrustDomain() ?? default;
        var dataDirNode = root.Get("dataDir");
        var dataDir = dataDirNode?.AbsolutePath() ?? AgentOptions.DefaultDataDir;
        var serverAddress = ReadServerAddress(root);
        var joinToken = ReadJoinToken(root.Get("joinToken"));
        var (trustBundleFile, insecureBootstrap) = ReadBootstrapTrust(root);
        var syncInterval = ReadSyncInterval(root.Get("syncInterval"));
        var workloadSection = root.Section("workloadApi");
        var workloadApi = ReadWorkloadApi(workloadSection, out var workloadSocketValid);
        var listenSection = root.Section("listen");
        var listen = ReadListen(listenSection, dataDir, dataDirNode?.Line, out var adminSocketValid);
        var adminUids = ReadAdminUids(root);
        var gate = ReadGate(root);
        var logging = LoggingConfig.Read(root.Get("logging"));
        var kernel = ReadKernelAttribution(root);
        root.RejectUnknownKeys();
        if (workloadSocketValid && adminSocketValid)
        {
            CheckSocketsApart(workloadSection, workloadApi, listenSection, listen, dataDirNode?.Line);
        }

        CheckPortsApart(workloadSection, workloadApi, listenSection, listen);

        if (!errors.IsEmpty || serverAddress is null)
        {
            return new ConfigResult<AgentOptions>(errors.ToImmutable());
        }

        var options = new AgentOptions
        {
            TrustDomain = trustDomain,
            DataDir = dataDir,
            ServerAddress = serverAddress,
            JoinToken = joinToken,
            TrustBundleFile = trustBundleFile,
            InsecureBootstrap = insecureBootstrap,
            WorkloadApi = workloadApi,
            Listen = listen,
            AdminUids = adminUids,
            Gate = gate,
            Logging = logging,
            KernelAttribution = kernel,
        };
        return new ConfigResult<AgentOptions>(syncInterval is { } interval ? options with { SyncInterval = interval } : options);
    }

    private static HostPort? ReadServerAddress(ConfigMap root)
    {
        var node = root.Get("serverAddress");
        if (node is null)
        {
            root.Required("serverAddress");
            return null;
        }

        var text = node.Scalar();
        if (text is null)
        {
            return null;
        }

        if (Endpoints.TryParseDial(text, out var address, out var error))
        {
            return address;
        }

        node.Error(error);
        return null;
    }

    // The token is a secret: no message quotes it, whole or in part.
    private static string? ReadJoinToken(ConfigNode? node)
    {
        var text = node?.Scalar();
        if (node is null || text is null)
        {
            return null;
        }

        if (IsJoinTokenShape(text))
        {
            return text;
        }

        node.Error(string.Create(
            CultureInfo.InvariantCulture,
            $"must look like <id>.<secret> ({JoinTokenIdChars} lowercase hex digits, a dot, {JoinTokenSecretChars} base64url characters)"));
        return null;
    }

    private static bool IsJoinTokenShape(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        return dot == JoinTokenIdChars
            && text.Length == dot + 1 + JoinTokenSecretChars
            && text[..dot].All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f')
            && text[(dot + 1)..].All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
    }

    // Exactly one way to trust the server on first contact: its bundle, or an explicit blind trust.
    // The bundle file's existence is checked when the agent starts, not here.
    private static (string? TrustBundleFile, bool InsecureBootstrap) ReadBootstrapTrust(ConfigMap root)
    {
        var bundleNode = root.Get("trustBundleFile");
        var bundle = bundleNode?.AbsolutePath();
        var insecureNode = root.Get("insecureBootstrap");
        var insecure = insecureNode is null ? false : ReadBoolean(insecureNode);
        if (insecure == true && bundleNode is not null)
        {
            root.Errors.Add(root.PathOf("insecureBootstrap"), "set only one of trustBundleFile and insecureBootstrap: true", insecureNode!.Line);
        }
        else if (insecure == false && bundleNode is null)
        {
            root.Errors.Add(root.PathOf("trustBundleFile"), "either trustBundleFile or insecureBootstrap: true is required", insecureNode?.Line);
        }

        return (bundle, insecure ?? false);
    }

    private static bool? ReadBoolean(ConfigNode node) => node.Boolean();

    private static TimeSpan? ReadSyncInterval(ConfigNode? node)
    {
        var value = node?.Duration();
        if (node is null || value is null)
        {
            return null;
        }

        if (value.Value < MinSyncInterval || value.Value > MaxSyncInterval)
        {
            node.Error($"must be from {Durations.Format(MinSyncInterval)} to {Durations.Format(MaxSyncInterval)}");
            return null;
        }

        return value;
    }

    private static KernelAttributionOptions ReadKernelAttribution(ConfigMap root)
    {
        if (root.Get("attestation") is null)
        {
            return new KernelAttributionOptions();
        }

        var attestation = root.Section("attestation");
        var section = attestation.Section("kernel");
        attestation.RejectUnknownKeys();
        var mode = KernelAttributionMode.Auto;
        var modeNode = section.Get("mode");
        switch (modeNode?.Scalar())
        {
            case null:
                break;
            case "auto":
                break;
            case "required":
                mode = KernelAttributionMode.Required;
                break;
            case "off":
                mode = KernelAttributionMode.Off;
                break;
            case var other:
                modeNode!.Error($"{ConfigText.Quote(other)} must be auto, required or off");
                break;
        }

        var cgroups = new List<string>();
        foreach (var item in section.Get("cgroups")?.List() ?? [])
        {
            if (item.AbsolutePath() is not { } path)
            {
                continue;
            }

            if (Path.TrimEndingDirectorySeparator(path) is "/sys/fs/cgroup" or "/sys/fs/cgroup/unified")
            {
                item.Error("must not be the root cgroup: every process on the host would be attributed");
                continue;
            }

            cgroups.Add(path);
        }

        if (mode == KernelAttributionMode.Required && cgroups.Count == 0 && modeNode is not null)
        {
            modeNode.Error("required needs at least one cgroup in attestation.kernel.cgroups");
        }

        section.RejectUnknownKeys();
        return new KernelAttributionOptions { Mode = mode, Cgroups = cgroups };
    }

    private static WorkloadApiListenOptions ReadWorkloadApi(ConfigMap section, out bool socketValid)
    {
        var defaults = new WorkloadApiListenOptions();
        var socketNode = section.Get("socket");
        var socket = socketNode?.AbsolutePath();
        var tcpNode = section.Get("tcp");
        var tcp = tcpNode?.Endpoint();
        var maxStreams = ReadCount(section.Get("maxStreamsPerCaller"), MaxStreamsPerCallerLimit);
        var (maxConnections, perUid) = ReadConnectionCaps(section, "workloadApi", defaults.MaxConnections, defaults.MaxConnectionsPerUid);
        var rate = ReadCount(section.Get("requestsPerSecondPerUid"), MaxRequestsPerSecondLimit);
        var idle = ReadIdleTimeout(section, MaxIdleTimeout);
        section.RejectUnknownKeys();

        socketValid = socketNode is null || socket is not null;
        if (socket is not null)
        {
            CheckSocketLength(section, "socket", socket, socketNode?.Line);
        }

        if (tcp is not null && !IsLoopbackAddress(tcp))
        {
            tcpNode!.Error($"host {ConfigText.Quote(tcp.Host)} must be a loopback IP address (127.0.0.0/8 or [::1])");
            tcp = null;
        }

        return new WorkloadApiListenOptions
        {
            Socket = socket ?? defaults.Socket,
            Tcp = tcp,
            MaxStreamsPerCaller = maxStreams ?? defaults.MaxStreamsPerCaller,
            MaxConnections = maxConnections,
            MaxConnectionsPerUid = perUid,
            IdleTimeout = idle ?? defaults.IdleTimeout,
            RequestsPerSecondPerUid = rate ?? defaults.RequestsPerSecondPerUid,
        };
    }

    // maxConnections and maxConnectionsPerUid of a section (workloadApi, gate), checked together.
    private static (int MaxConnections, int PerUid) ReadConnectionCaps(ConfigMap section, string path, int defaultMax, int defaultPerUid)
    {
        var maxConnectionsNode = section.Get("maxConnections");
        var maxConnections = ReadCount(maxConnectionsNode, MaxConnectionsLimit) ?? defaultMax;
        var perUidNode = section.Get("maxConnectionsPerUid");
        var perUid = ReadCount(perUidNode, MaxConnectionsLimit) ?? defaultPerUid;

        // One uid may never hold every connection, or it could lock every other user out.
        if (perUid > maxConnections && perUidNode is not null)
        {
            perUidNode.Error(string.Create(CultureInfo.InvariantCulture, $"{perUid} must not exceed {path}.maxConnections ({maxConnections})"));
        }
        else if (perUid > maxConnections)
        {
            maxConnectionsNode!.Error(string.Create(
                CultureInfo.InvariantCulture, $"{maxConnections} must be at least {path}.maxConnectionsPerUid ({perUid}, the default)"));
        }

        return (maxConnections, perUid);
    }

    // idleTimeout of a section, from MinIdleTimeout to max; null when absent or invalid (reported).
    private static TimeSpan? ReadIdleTimeout(ConfigMap section, TimeSpan max)
    {
        var idleNode = section.Get("idleTimeout");
        var idle = idleNode?.Duration();
        if (idle is { } value && (value < MinIdleTimeout || value > max))
        {
            idleNode!.Error($"must be from {Durations.Format(MinIdleTimeout)} to {Durations.Format(max)}");
            return null;
        }

        return idle;
    }

    private static int? ReadCount(ConfigNode? node, int max) => node?.Count(1, max);

    private static AgentListenOptions ReadListen(ConfigMap section, string dataDir, int? dataDirLine, out bool socketValid)
    {
        var adminSocketNode = section.Get("adminSocket");
        var adminSocket = adminSocketNode?.AbsolutePath();
        socketValid = adminSocketNode is null || adminSocket is not null;
        var health = section.Get("health")?.Endpoint();
        section.RejectUnknownKeys();

        // A default socket that is too long is the dataDir's fault: report it at that line.
        var socketPath = adminSocket ?? Path.Join(dataDir, "admin.sock");
        CheckSocketLength(section, "adminSocket", socketPath, adminSocketNode?.Line ?? dataDirLine);
        return new AgentListenOptions { AdminSocket = socketPath, Health = health ?? AgentListenOptions.DefaultHealth };
    }

    private static void CheckSocketLength(ConfigMap section, string key, string socketPath, int? line)
    {
        if (Encoding.UTF8.GetByteCount(socketPath) > MaxSocketPathBytes)
        {
            section.Errors.Add(
                section.PathOf(key),
                string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(socketPath)} is longer than {MaxSocketPathBytes} bytes, the limit of a unix socket path"),
                line);
        }
    }

    // Two listeners on one socket path or one port would fail at start with a bind error; name the clashing keys now.
    private static void CheckSocketsApart(ConfigMap workloadSection, WorkloadApiListenOptions workloadApi, ConfigMap listenSection, AgentListenOptions listen, int? dataDirLine)
    {
        if (string.Equals(NormalizePath(listen.AdminSocket), NormalizePath(workloadApi.Socket), StringComparison.Ordinal))
        {
            listenSection.Errors.Add(
                listenSection.PathOf("adminSocket"),
                $"must differ from {workloadSection.PathOf("socket")}",
                listenSection.Get("adminSocket")?.Line ?? workloadSection.Get("socket")?.Line ?? dataDirLine);
        }
    }

    private static void CheckPortsApart(ConfigMap workloadSection, WorkloadApiListenOptions workloadApi, ConfigMap listenSection, AgentListenOptions listen)
    {
        if (workloadApi.Tcp is { Port: not 0 } tcp && tcp == listen.Health)
        {
            listenSection.Errors.Add(
                listenSection.PathOf("health"),
                $"must differ from {workloadSection.PathOf("tcp")}",
                listenSection.Get("health")?.Line ?? workloadSection.Get("tcp")?.Line);
        }
    }

    // "/run//a/./api.sock" and "/run/a/api.sock" are one socket; pure text, so it cannot throw.
    private static string NormalizePath(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(part);
        }

        return "/" + string.Join('/', parts);
    }

    // The map items of a list, each read by read; an item that is not a map, or that read refuses
    // (having reported why), is left out.
    private static List<T> ReadMaps<T>(IReadOnlyList<ConfigNode>? items, Func<ConfigMap, T?> read)
        where T : class
    {
        var list = new List<T>();
        foreach (var item in items ?? [])
        {
            if (item.Map() is { } map && read(map) is { } value)
            {
                list.Add(value);
            }
        }

        return list;
    }

    private static ImmutableArray<uint> ReadAdminUids(ConfigMap root) => AdminUids.Read(root);

    // A literal loopback IP, 127.0.0.0/8 or (unless ipv4Only) [::1]; never a name, which could resolve elsewhere.
    private static bool IsLoopbackAddress(HostPort endpoint, bool ipv4Only = false)
    {
        if (endpoint.IsLocalhost || !IPAddress.TryParse(endpoint.Host, out var address))
        {
            return false;
        }

        return address.AddressFamily == AddressFamily.InterNetwork
            ? address.GetAddressBytes()[0] == 127
            : !ipv4Only && address.Equals(IPAddress.IPv6Loopback);
    }
}
