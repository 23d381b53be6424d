using System.Collections.Immutable;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Logging;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Config;

/// <summary>
/// The server's settings, as read from <c>server.yaml</c> by <see cref="ServerConfigLoader"/>.
/// Immutable; every optional setting states its default.
/// </summary>
/// <remarks>
/// Settings whose default depends on <see cref="DataDir"/> (the admin socket, the SQLite file,
/// the server id) stay null when not configured; <see cref="AdminSocketPath"/>,
/// <see cref="Datastore"/>'s <see cref="DatastoreOptions.SqlitePathIn"/> and
/// <see cref="ServerIdFile"/> resolve them.
/// </remarks>
public sealed record ServerOptions
{
    /// <summary>The default of <see cref="DataDir"/>.</summary>
    public const string DefaultDataDir = "/var/lib/anchorage/server";

    /// <summary>The trust domain this server is the authority for. Required.</summary>
    public required TrustDomain TrustDomain { get; init; }

    /// <summary>Where the server keeps its state (keys, SQLite, server id). Absolute. Default <c>/var/lib/anchorage/server</c>.</summary>
    public string DataDir { get; init; } = DefaultDataDir;

    /// <summary>
    /// This server's stable id (it owns the keys of the authorities it created). Default null:
    /// an id generated once and stored in <c>&lt;dataDir&gt;/server-id</c> (see <see cref="ServerIdFile"/>).
    /// </summary>
    public string? ServerId { get; init; }

    /// <summary>The datastore. Default: SQLite at <c>&lt;dataDir&gt;/datastore.db</c>.</summary>
    public DatastoreOptions Datastore { get; init; } = new();

    /// <summary>The listeners.</summary>
    public ListenerOptions Listen { get; init; } = new();

    /// <summary>The certificate authority.</summary>
    public CaOptions Ca { get; init; } = new();

    /// <summary>What the server publishes in its trust bundle.</summary>
    public BundleOptions Bundle { get; init; } = new();

    /// <summary>Federation with other trust domains.</summary>
    public FederationOptions Federation { get; init; } = new();

    /// <summary>How federation relationships are reviewed and retired (<c>governance:</c>).</summary>
    public GovernanceOptions Governance { get; init; } = new();

    /// <summary>The bounds of the agent API listener (<c>agentApiLimits:</c>). Default: the API's defaults.</summary>
    public AgentApiLimitOptions AgentApiLimits { get; init; } = new();

    /// <summary>
    /// The audit trail (<c>audit: { file, maxSizeMB, keep }</c>): a record per federation fetch,
    /// federated bundle change and local authority change. Default null: no audit file.
    /// </summary>
    public AuditOptions? Audit { get; init; }

    /// <summary>The read-only web console (<c>console: { listen, servingCert, sessionTtl }</c>). Default null: no console.</summary>
    public ConsoleOptions? Console { get; init; }

    /// <summary>How the log on stdout is written (<c>logging: { format: text | json }</c>). Default text.</summary>
    public LoggingOptions Logging { get; init; } = new();

    /// <summary>The uids allowed to use the admin socket. Default <c>[0]</c> (root).</summary>
    public ImmutableArray<uint> AdminUids { get; init; } = [0];

    /// <summary>The admin socket path: <see cref="ListenerOptions.AdminSocket"/>, or <c>&lt;dataDir&gt;/admin.sock</c>.</summary>
    public string AdminSocketPath => Listen.AdminSocket ?? Path.Join(DataDir, "admin.sock");
}
