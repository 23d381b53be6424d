using System.Text;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Logging;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Config;

/// <summary>
/// Everything an agent needs to run, read from <c>agent.yaml</c> by <c>AgentConfigLoader</c>
/// (camelCase keys) or built by tests. Paths are absolute.
/// </summary>
public sealed record AgentOptions
{
    /// <summary>The default <see cref="DataDir"/>.</summary>
    public const string DefaultDataDir = "/var/lib/anchorage/agent";

    /// <summary>The trust domain the agent and its server belong to.</summary>
    public required TrustDomain TrustDomain { get; init; }

    /// <summary>Where the agent keeps its SVID, key and last bundle (mode 0700 directory, 0600 files).</summary>
    public string DataDir { get; init; } = DefaultDataDir;

    /// <summary>The server's agent API, <c>host:port</c>; the host may be a DNS name.</summary>
    public required HostPort ServerAddress { get; init; }

    /// <summary>
    /// The one-time join token (<c>&lt;id&gt;.&lt;secret&gt;</c>) used when the agent has no valid
    /// SVID of its own in <see cref="DataDir"/>; null when none is configured.
    /// </summary>
    public string? JoinToken { get; init; }

    /// <summary>The server's trust bundle (SPIFFE JSON or PEM) used to authenticate the server before the first attestation.</summary>
    public string? TrustBundleFile { get; init; }

    /// <summary>Trust the server's certificate blindly on the first attestation (logged loudly). Exclusive with <see cref="TrustBundleFile"/>.</summary>
    public bool InsecureBootstrap { get; init; }

    /// <summary>The Workload API listeners.</summary>
    public WorkloadApiListenOptions WorkloadApi { get; init; } = new();

    /// <summary>The admin socket and health listener.</summary>
    public required AgentListenOptions Listen { get; init; }

    /// <summary>Uids allowed on the admin socket.</summary>
    public IReadOnlyList<uint> AdminUids { get; init; } = [0];

    /// <summary>How often entries and bundles are pulled from the server (default 5 s).</summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The gate (agent.yaml <c>gate:</c>); null when the agent runs no gate.</summary>
    public GateOptions? Gate { get; init; }

    /// <summary>How the log on stdout is written (<c>logging: { format: text | json }</c>). Default text.</summary>
    public LoggingOptions Logging { get; init; } = new();
    /// <summary><c>attestation.kernel</c>: connect-time attribution by eBPF.</summary>
    public KernelAttributionOptions KernelAttribution { get; init; } = new();

    // The join token is a secret and records print every property: leave it out, so logging the options is safe.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("TrustDomain = ").Append(TrustDomain)
            .Append(", DataDir = ").Append(DataDir)
            .Append(", ServerAddress = ").Append(ServerAddress)
            .Append(", JoinToken = ").Append(JoinToken is null ? string.Empty : "(redacted)")
            .Append(", TrustBundleFile = ").Append(TrustBundleFile)
            .Append(", InsecureBootstrap = ").Append(InsecureBootstrap)
            .Append(", WorkloadApi = ").Append(WorkloadApi)
            .Append(", Listen = ").Append(Listen)
            .Append(", AdminUids = [").AppendJoin(", ", AdminUids).Append(']')
            .Append(", SyncInterval = ").Append(SyncInterval)
            .Append(", Gate = ").Append(Gate)
            .Append(", Logging = ").Append(Logging);
        return true;
    }
}

/// <summary>Where the agent serves the SPIFFE Workload API.</summary>
public sealed record WorkloadApiListenOptions
{
    /// <summary>The default <see cref="Socket"/>.</summary>
    public const string DefaultSocket = "/run/anchorage/agent/api.sock";

    /// <summary>The default <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 4096;

    /// <summary>The default <see cref="MaxConnectionsPerUid"/>.</summary>
    public const int DefaultMaxConnectionsPerUid = 1024;

    /// <summary>The default <see cref="IdleTimeout"/>.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default <see cref="RequestsPerSecondPerUid"/>.</summary>
    public const int DefaultRequestsPerSecondPerUid = 1000;

    /// <summary>The unix socket (mode 0777: attestation, not file permissions, decides who gets what).</summary>
    public string Socket { get; init; } = DefaultSocket;

    /// <summary>An optional loopback TCP listener (<c>127.0.0.1:PORT</c> or <c>[::1]:PORT</c>); null when off.</summary>
    public HostPort? Tcp { get; init; }

    /// <summary>
    /// Streaming calls one caller may hold open at once, counted per uid and default SPIFFE ID
    /// (so more processes of the same workload share it); default 128.
    /// </summary>
    public int MaxStreamsPerCaller { get; init; } = 128;

    /// <summary>Open Workload API connections, both listeners together; one more is closed at once (default 4096).</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>Open Workload API connections of one uid; one more is closed at once (default 1024).</summary>
    public int MaxConnectionsPerUid { get; init; } = DefaultMaxConnectionsPerUid;

    /// <summary>A connection with no call in progress for this long is closed (default 30 s).</summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    /// <summary>
    /// Calls one uid may start per second (a bucket of twice as many absorbs bursts); more are
    /// answered Unavailable before attestation. Default 1000.
    /// </summary>
    public int RequestsPerSecondPerUid { get; init; } = DefaultRequestsPerSecondPerUid;
}

/// <summary>The agent's own listeners besides the Workload API.</summary>
public sealed record AgentListenOptions
{
    /// <summary>The default health listener.</summary>
    public static readonly HostPort DefaultHealth = new("127.0.0.1", 8089);

    /// <summary>The admin socket (mode 0600, callers checked by uid); default <c>&lt;dataDir&gt;/admin.sock</c>.</summary>
    public required string AdminSocket { get; init; }

    /// <summary>HTTP/1.1 listener for <c>/live</c>, <c>/ready</c> and <c>/metrics</c>.</summary>
    public HostPort Health { get; init; } = DefaultHealth;
}
