using System.Data.Common;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore.Migrations;
using Anchorage.Server.Federation;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// The datastore over plain ADO.NET, shared by both backends: the <see cref="IDataStore"/> front over
/// one store per resource (<see cref="EntryStore"/>, <see cref="NodeStore"/>, <see cref="AuthorityStore"/>,
/// <see cref="BundleStore"/>, <see cref="RelationshipStore"/>, <see cref="PolicyStore"/>), which all run
/// through one <see cref="SqlExecutor"/> (one connection per operation, one <see cref="RetryPolicy"/>,
/// one way to build commands) and share one <see cref="PageToken"/>; <see cref="SchemaMigrator"/>
/// brings the schema up to date. Each backend supplies connections, write transactions, named locks
/// and the reading of its error codes (<see cref="ISqlBackend"/>).
/// </summary>
/// <remarks>
/// <para>Join tokens: taken with one <c>DELETE ... RETURNING</c>; of concurrent takers exactly one gets the row.</para>
/// <para>Every write that can race is a conditional update of its own columns (see each store).</para>
/// </remarks>
internal abstract class SqlDataStore : IDataStore, ISqlBackend
{
    private readonly SqlExecutor _sql;
    private readonly EntryStore _entries;
    private readonly NodeStore _nodes;
    private readonly BundleStore _bundles;
    private readonly AuthorityStore _authorities;
    private readonly RelationshipStore _relationships;
    private readonly PolicyStore _policy;
    private readonly UsageStore _usage;
    private readonly FetchStore _fetches;
    private readonly HeldBundleStore _held;

    protected SqlDataStore(TimeProvider timeProvider, ILogger logger)
    {
        Time = timeProvider;
        Logger = logger;
        _sql = new SqlExecutor(this, timeProvider, logger, new RetryPolicy());
        _entries = new EntryStore(_sql);
        _nodes = new NodeStore(_sql);
        _bundles = new BundleStore(_sql);
        _authorities = new AuthorityStore(_sql, _bundles);
        _relationships = new RelationshipStore(_sql);
        _policy = new PolicyStore(_sql);
        _usage = new UsageStore(_sql);
        _fetches = new FetchStore(_sql);
        _held = new HeldBundleStore(_sql);
    }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public abstract string BackendName { get; }

    /// <summary>Where the database is, without credentials.</summary>
    internal abstract string Location { get; }

    public abstract string SchemaVersionTableSql { get; }

    public abstract ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    public abstract Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken);

    public abstract string MigrationSql(Migration migration);

    public abstract bool IsUniqueViolation(DbException exception);

    public abstract bool IsRetryable(DbException exception);

    public abstract bool IsUnavailable(DbException exception);

    public abstract string Describe(Exception exception);

    public abstract ValueTask DisposeAsync();

    /// <inheritdoc/>
    public abstract Task<string?> CheckHealthAsync(CancellationToken cancellationToken);

    /// <summary>Applies the missing migrations (see <see cref="SchemaMigrator"/>); returns the schema version.</summary>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this build knows.</exception>
    internal Task<int> MigrateAsync(CancellationToken cancellationToken) => new SchemaMigrator(_sql).MigrateAsync(cancellationToken);

    public Task<RegistrationEntry> CreateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken) =>
        _entries.CreateEntryAsync(entry, cancellationToken);

    public Task<RegistrationEntry?> GetEntryAsync(string id, CancellationToken cancellationToken) =>
        _entries.GetEntryAsync(id, cancellationToken);

    public Task<RegistrationEntry> UpdateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken) =>
        _entries.UpdateEntryAsync(entry, cancellationToken);

    public Task<bool> DeleteEntryAsync(string id, CancellationToken cancellationToken) =>
        _entries.DeleteEntryAsync(id, cancellationToken);

    public Task<EntryPage> ListEntriesAsync(EntryQuery query, CancellationToken cancellationToken) =>
        _entries.ListEntriesAsync(query, cancellationToken);

    public Task<long> CountEntriesAsync(CancellationToken cancellationToken) =>
        _entries.CountEntriesAsync(cancellationToken);

    public Task<EntryChanges> ListEntryChangesAsync(long sinceRevision, int limit, CancellationToken cancellationToken) =>
        _entries.ListEntryChangesAsync(sinceRevision, limit, cancellationToken);

    public Task CreateJoinTokenAsync(JoinToken token, CancellationToken cancellationToken) =>
        _nodes.CreateJoinTokenAsync(token, cancellationToken);

    public Task<JoinToken?> TakeJoinTokenAsync(string id, CancellationToken cancellationToken) =>
        _nodes.TakeJoinTokenAsync(id, cancellationToken);

    public Task<int> PruneJoinTokensAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        _nodes.PruneJoinTokensAsync(before, cancellationToken);

    public Task CreateNodeAsync(AttestedNode node, CancellationToken cancellationToken) =>
        _nodes.CreateNodeAsync(node, cancellationToken);

    public Task<AttestedNode?> GetNodeAsync(SpiffeId id, CancellationToken cancellationToken) =>
        _nodes.GetNodeAsync(id, cancellationToken);

    public Task<IReadOnlyList<AttestedNode>> ListNodesAsync(CancellationToken cancellationToken) =>
        _nodes.ListNodesAsync(cancellationToken);

    public Task<NodeUpdateResult> ReattestNodeAsync(AttestedNode node, CancellationToken cancellationToken) =>
        _nodes.ReattestNodeAsync(node, cancellationToken);

    public Task<NodeUpdateResult> RenewNodeSvidAsync(SpiffeId id, string currentSerial, string pendingSerial, DateTimeOffset pendingNotAfter, CancellationToken cancellationToken) =>
        _nodes.RenewNodeSvidAsync(id, currentSerial, pendingSerial, pendingNotAfter, cancellationToken);

    public Task<bool> BanNodeAsync(SpiffeId id, CancellationToken cancellationToken) =>
        _nodes.BanNodeAsync(id, cancellationToken);

    public Task<bool> PromoteNodeSvidAsync(SpiffeId id, string pendingSerial, CancellationToken cancellationToken) =>
        _nodes.PromoteNodeSvidAsync(id, pendingSerial, cancellationToken);

    public Task<bool> DeleteNodeAsync(SpiffeId id, CancellationToken cancellationToken) =>
        _nodes.DeleteNodeAsync(id, cancellationToken);

    public Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(CancellationToken cancellationToken) =>
        _authorities.ListAuthoritiesAsync(cancellationToken);

    public Task CreateAuthorityAsync(AuthorityRecord authority, CancellationToken cancellationToken) =>
        _authorities.CreateAuthorityAsync(authority, cancellationToken);

    public Task<bool> ActivateAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        _authorities.ActivateAuthorityAsync(kind, id, cancellationToken);

    public Task<bool> DemoteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        _authorities.DemoteAuthorityAsync(kind, id, cancellationToken);

    public Task<bool> TaintAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        _authorities.TaintAuthorityAsync(kind, id, cancellationToken);

    public Task<bool> RevokeAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        _authorities.RevokeAuthorityAsync(kind, id, cancellationToken);

    public Task<IReadOnlyList<RevokedAuthority>> ListRevokedAuthoritiesAsync(CancellationToken cancellationToken) =>
        _authorities.ListRevokedAuthoritiesAsync(cancellationToken);

    public Task<bool> DeleteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        _authorities.DeleteAuthorityAsync(kind, id, cancellationToken);

    public Task<StoredBundle?> GetBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _bundles.GetBundleAsync(trustDomain, cancellationToken);

    public Task<IReadOnlyList<StoredBundle>> ListBundlesAsync(CancellationToken cancellationToken) =>
        _bundles.ListBundlesAsync(cancellationToken);

    public Task<StoredBundle> PublishBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken) =>
        _bundles.PublishBundleAsync(bundle, cancellationToken);

    public Task<StoredBundle> PublishBundleAsync(TrustDomain trustDomain, Func<IReadOnlyList<AuthorityRecord>, SpiffeBundle> fromJournal, CancellationToken cancellationToken) =>
        _authorities.PublishBundleAsync(trustDomain, fromJournal, cancellationToken);

    public Task<StoredBundle> SetBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken) =>
        _bundles.SetBundleAsync(bundle, cancellationToken);

    public Task<StoredBundle?> SetFederatedBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken) =>
        _bundles.SetFederatedBundleAsync(bundle, cancellationToken);

    public Task<bool> DeleteBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _bundles.DeleteBundleAsync(trustDomain, cancellationToken);

    public Task<FederationRelationship> CreateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken) =>
        _relationships.CreateRelationshipAsync(relationship, cancellationToken);

    public Task<FederationRelationship> UpdateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken) =>
        _relationships.UpdateRelationshipAsync(relationship, cancellationToken);

    public Task SetRelationshipApprovalAsync(TrustDomain trustDomain, FederationApproval? approval, long expectedRevision, CancellationToken cancellationToken) =>
        _relationships.SetApprovalAsync(trustDomain, approval, expectedRevision, cancellationToken);

    public Task<(FederationRelationship Relationship, FederationRefreshState State)?> GetRelationshipAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _relationships.GetRelationshipAsync(trustDomain, cancellationToken);

    public Task<IReadOnlyList<(FederationRelationship Relationship, FederationRefreshState State)>> ListRelationshipsAsync(CancellationToken cancellationToken) =>
        _relationships.ListRelationshipsAsync(cancellationToken);

    public Task<bool> DeleteRelationshipAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _relationships.DeleteRelationshipAsync(trustDomain, cancellationToken);

    public Task UpdateRefreshStateAsync(TrustDomain trustDomain, FederationRefreshState state, CancellationToken cancellationToken) =>
        _relationships.UpdateRefreshStateAsync(trustDomain, state, cancellationToken);

    public Task<int> AddUsageAsync(SpiffeId agent, IReadOnlyList<FederationUsage> counts, CancellationToken cancellationToken) =>
        _usage.AddUsageAsync(agent, counts, cancellationToken);

    public Task<IReadOnlyList<FederationUsage>> ListUsageAsync(TrustDomain? trustDomain, CancellationToken cancellationToken) =>
        _usage.ListUsageAsync(trustDomain, cancellationToken);

    public Task<bool> AddFetchAsync(TrustDomain trustDomain, FederationFetch fetch, CancellationToken cancellationToken) =>
        _fetches.AddFetchAsync(trustDomain, fetch, cancellationToken);

    public Task<IReadOnlyList<FederationFetch>> ListFetchesAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _fetches.ListFetchesAsync(trustDomain, cancellationToken);

    public Task<int> SetHeldBundlesAsync(SpiffeId agent, IReadOnlyList<(TrustDomain TrustDomain, ulong Sequence)> held, CancellationToken cancellationToken) =>
        _held.SetHeldBundlesAsync(agent, held, cancellationToken);

    public Task<IReadOnlyList<FederationHeldBundle>> ListHeldBundlesAsync(TrustDomain trustDomain, CancellationToken cancellationToken) =>
        _held.ListHeldBundlesAsync(trustDomain, cancellationToken);

    public Task<StoredPolicy?> GetPolicyAsync(CancellationToken cancellationToken) =>
        _policy.GetPolicyAsync(cancellationToken);

    public Task<long> GetPolicyVersionAsync(CancellationToken cancellationToken) =>
        _policy.GetPolicyVersionAsync(cancellationToken);

    public Task<(StoredPolicy Policy, bool Changed)> PutPolicyAsync(string name, string document, CancellationToken cancellationToken) =>
        _policy.PutPolicyAsync(name, document, cancellationToken);
}
