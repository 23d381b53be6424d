using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.Federation;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore;

/// <summary>
/// Everything the server persists, behind one interface with two real backends (SQLite, the
/// embedded default; PostgreSQL, shared by several servers for HA). Every method is atomic;
/// writes that read-then-write (revisions, bundle sequences, one-time tokens) are safe when
/// several servers share one database.
/// </summary>
/// <remarks>
/// Failures: <see cref="DataStoreConflictException"/> for a duplicate or lost race,
/// <see cref="DataStoreStaleRevisionException"/> for a conditional update made from an old revision,
/// <see cref="DataStoreNotFoundException"/> for an update of something absent; connection
/// problems surface as <see cref="DataStoreUnavailableException"/>.
/// </remarks>
public interface IDataStore : IAsyncDisposable
{
    /// <summary>
    /// Null when the store can serve; else one line saying what is wrong and where (a damaged SQLite
    /// file, an unreachable PostgreSQL server). Never throws for a store problem.
    /// </summary>
    Task<string?> CheckHealthAsync(CancellationToken cancellationToken);

    // ---- registration entries ----

    /// <summary>
    /// Stores a new entry, assigning the next revision number. Conflict when an entry with the same
    /// SPIFFE ID, parent ID and selector set (order-insensitive) exists.
    /// </summary>
    Task<RegistrationEntry> CreateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken);

    Task<RegistrationEntry?> GetEntryAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces an entry (by id), assigning the next revision number; not-found if absent; conflict on
    /// duplicates. When <see cref="RegistrationEntry.RevisionNumber"/> is not 0 it is the revision the
    /// caller read: the update happens only while that is still the stored revision, else
    /// <see cref="DataStoreStaleRevisionException"/> and nothing changes (0: no check, last writer wins).
    /// </summary>
    Task<RegistrationEntry> UpdateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken);

    /// <summary>Deletes an entry; false when absent. Deletions are visible to <see cref="ListEntryChangesAsync"/>.</summary>
    Task<bool> DeleteEntryAsync(string id, CancellationToken cancellationToken);

    /// <summary>Lists entries matching <paramref name="query"/>, ordered by id, one page at a time.</summary>
    Task<EntryPage> ListEntriesAsync(EntryQuery query, CancellationToken cancellationToken);

    Task<long> CountEntriesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Entries created or changed, and ids deleted, after revision <paramref name="sinceRevision"/>,
    /// at most <paramref name="limit"/> changes, in revision order: the basis of incremental sync.
    /// </summary>
    Task<EntryChanges> ListEntryChangesAsync(long sinceRevision, int limit, CancellationToken cancellationToken);

    // ---- node attestation ----

    /// <summary>Stores a join token; conflict if the id exists.</summary>
    Task CreateJoinTokenAsync(JoinToken token, CancellationToken cancellationToken);

    /// <summary>Atomically removes and returns the token (one-time use): two callers never both get it.</summary>
    Task<JoinToken?> TakeJoinTokenAsync(string id, CancellationToken cancellationToken);

    /// <summary>Deletes tokens that expired before <paramref name="before"/>; returns how many.</summary>
    Task<int> PruneJoinTokensAsync(DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>Stores a newly attested node; conflict if it exists.</summary>
    Task CreateNodeAsync(AttestedNode node, CancellationToken cancellationToken);

    Task<AttestedNode?> GetNodeAsync(SpiffeId id, CancellationToken cancellationToken);

    Task<IReadOnlyList<AttestedNode>> ListNodesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Re-attestation: replaces the node's attestation type, current SVID and selectors and clears
    /// its pending SVID, only while the node is not banned. Never touches <c>banned</c> or the
    /// creation time, so a concurrent ban sticks.
    /// </summary>
    Task<NodeUpdateResult> ReattestNodeAsync(AttestedNode node, CancellationToken cancellationToken);

    /// <summary>
    /// Renewal: stores the newly signed SVID as pending, only while the node is not banned and its
    /// current serial is still <paramref name="currentSerial"/> (the one the renewal authenticated
    /// against). Changes only the pending columns, so a concurrent ban or eviction is never undone.
    /// </summary>
    Task<NodeUpdateResult> RenewNodeSvidAsync(
        SpiffeId id, string currentSerial, string pendingSerial, DateTimeOffset pendingNotAfter, CancellationToken cancellationToken);

    /// <summary>Sets the node's ban flag and nothing else; false when the node is absent.</summary>
    Task<bool> BanNodeAsync(SpiffeId id, CancellationToken cancellationToken);

    /// <summary>
    /// Makes the node's pending SVID its current one and clears the pending one, only if the pending
    /// serial is still <paramref name="pendingSerial"/> (compare-and-set: a concurrent renewal or
    /// promotion wins). False when the node is absent or its pending serial is another or none.
    /// Leaves every other column (a concurrent ban included) as stored.
    /// </summary>
    Task<bool> PromoteNodeSvidAsync(SpiffeId id, string pendingSerial, CancellationToken cancellationToken);

    /// <summary>Deletes a node (eviction); false when absent.</summary>
    Task<bool> DeleteNodeAsync(SpiffeId id, CancellationToken cancellationToken);

    // ---- CA journal ----

    /// <summary>Every authority of every server sharing this datastore.</summary>
    Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(CancellationToken cancellationToken);

    /// <summary>Journals a new authority (prepare); conflict if one with the same kind and id exists.</summary>
    Task CreateAuthorityAsync(AuthorityRecord authority, CancellationToken cancellationToken);

    /// <summary>
    /// Activation, in one transaction: the authority goes from prepared to active only if it is still
    /// prepared, and then the owner's other active authorities of its kind become old. False (and
    /// nothing changed) when it is absent (revoked meanwhile) or no longer prepared.
    /// </summary>
    Task<bool> ActivateAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken);

    /// <summary>Moves a prepared or active authority to old (its key is gone or unusable); false when absent or already old.</summary>
    Task<bool> DemoteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken);

    /// <summary>Sets the taint flag of an old, untainted authority; false when absent, not old, or already tainted.</summary>
    Task<bool> TaintAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken);

    /// <summary>
    /// Revocation: deletes the authority only while it is prepared, or old and tainted; false (and
    /// nothing deleted) otherwise. A revoked authority is gone for good: no other write re-creates it
    /// (activation, demotion and taint are conditional updates of an existing row). In the same
    /// transaction its record goes to the revoked list (<see cref="ListRevokedAuthoritiesAsync"/>),
    /// which keeps the newest <see cref="RevokedAuthority.HistoryLimit"/> per kind.
    /// </summary>
    Task<bool> RevokeAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken);

    /// <summary>The authorities revoked so far (at most <see cref="RevokedAuthority.HistoryLimit"/> per kind), by kind, newest first.</summary>
    Task<IReadOnlyList<RevokedAuthority>> ListRevokedAuthoritiesAsync(CancellationToken cancellationToken);

    /// <summary>Deletes an expired authority (retirement), whatever its state; false when absent.</summary>
    Task<bool> DeleteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken);

    // ---- bundles ----

    Task<StoredBundle?> GetBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredBundle>> ListBundlesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Publishes the local trust domain's bundle: when its authorities or refresh hint differ from
    /// the stored ones, stores it with sequence = stored sequence + 1 (1 for the first); otherwise
    /// leaves it. The input's own sequence number is ignored. Returns what is stored. Safe under
    /// concurrent publishers: the sequence never repeats or goes down.
    /// </summary>
    Task<StoredBundle> PublishBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken);

    /// <summary>
    /// Publishes the local trust domain's bundle computed from the journal as it is now: reads every
    /// authority inside the publishing transaction (under the journal lock, so no authority write
    /// commits in between), builds the bundle with <paramref name="fromJournal"/> and stores it as
    /// <see cref="PublishBundleAsync(SpiffeBundle, CancellationToken)"/> does. Never from a server's
    /// earlier read of the journal, so concurrent servers cannot publish a revoked authority back.
    /// </summary>
    Task<StoredBundle> PublishBundleAsync(
        TrustDomain trustDomain, Func<IReadOnlyList<AuthorityRecord>, SpiffeBundle> fromJournal, CancellationToken cancellationToken);

    /// <summary>Stores a bundle exactly as given (a federated bundle, or an operator's <c>bundle set</c>).</summary>
    Task<StoredBundle> SetBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a fetched federated bundle only while a relationship with its trust domain exists (checked
    /// under the lock <see cref="DeleteRelationshipAsync"/> takes), so a fetch that finishes after the
    /// relationship was deleted does not bring the bundle back; null (nothing stored) when there is none.
    /// </summary>
    Task<StoredBundle?> SetFederatedBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken);

    /// <summary>Deletes a trust domain's bundle; false when absent.</summary>
    Task<bool> DeleteBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    // ---- federation relationships ----

    /// <summary>
    /// Stores a new relationship only if none with its trust domain exists (else conflict, nothing
    /// changed): <c>CreatedAt</c> = <c>UpdatedAt</c> = now, revision 1, an empty refresh state. Returns what is stored.
    /// </summary>
    Task<FederationRelationship> CreateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the declaration of the relationship with <see cref="FederationRelationship.TrustDomain"/>
    /// only while its stored revision is <see cref="FederationRelationship.Revision"/> (the one the caller
    /// read): keeps <c>CreatedAt</c> and the refresh state, sets <c>UpdatedAt</c> = now and the next
    /// revision. Not-found when absent; <see cref="DataStoreStaleRevisionException"/> (nothing changed)
    /// when another write came first. Returns what is stored.
    /// </summary>
    Task<FederationRelationship> UpdateRelationshipAsync(FederationRelationship relationship, CancellationToken cancellationToken);

    /// <summary>
    /// Sets (or, with null, drops) the approval of the relationship with <paramref name="trustDomain"/>
    /// only while its stored revision is <paramref name="expectedRevision"/>; moves it to the next revision
    /// and keeps <c>UpdatedAt</c>. Not-found when absent; <see cref="DataStoreStaleRevisionException"/>
    /// (nothing changed) when another write came first.
    /// </summary>
    Task SetRelationshipApprovalAsync(TrustDomain trustDomain, FederationApproval? approval, long expectedRevision, CancellationToken cancellationToken);

    /// <summary>The relationship with <paramref name="trustDomain"/> and its refresh state; null when absent.</summary>
    Task<(FederationRelationship Relationship, FederationRefreshState State)?> GetRelationshipAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    /// <summary>Every relationship with its refresh state, ordered by trust domain name.</summary>
    Task<IReadOnlyList<(FederationRelationship Relationship, FederationRefreshState State)>> ListRelationshipsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the relationship and, in the same transaction, the trust domain's stored bundle (so
    /// agents and workloads stop receiving it), its observed use, its fetch history and the agents' held sequences; false (and nothing deleted) when there is no such relationship.
    /// </summary>
    Task<bool> DeleteRelationshipAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    /// <summary>Replaces the relationship's refresh state; not-found if the relationship is absent.</summary>
    Task UpdateRefreshStateAsync(TrustDomain trustDomain, FederationRefreshState state, CancellationToken cancellationToken);

    // ---- observed use (issue 15 item 3) ----

    /// <summary>
    /// Adds one agent's report, in one transaction: for each row whose trust domain has a
    /// relationship, the counts are added to what <paramref name="agent"/> reported before for that
    /// trust domain, direction and listener, and each last-seen time moves to the later of the two (the rows'
    /// <see cref="FederationUsage.AgentId"/> and <see cref="FederationUsage.ReportedAt"/> are ignored:
    /// the agent and now are used). Rows naming a trust domain without a relationship are skipped.
    /// Returns how many rows were stored.
    /// </summary>
    Task<int> AddUsageAsync(SpiffeId agent, IReadOnlyList<FederationUsage> counts, CancellationToken cancellationToken);

    /// <summary>The stored usage of <paramref name="trustDomain"/>, or of every trust domain when null; ordered by trust domain, agent, direction.</summary>
    Task<IReadOnlyList<FederationUsage>> ListUsageAsync(TrustDomain? trustDomain, CancellationToken cancellationToken);

    // ---- fetch history (issue 16 item 2) ----

    /// <summary>
    /// Records one fetch of <paramref name="trustDomain"/>'s bundle endpoint and, in the same
    /// transaction, prunes its history to the newest <see cref="FederationFetch.HistoryLimit"/>
    /// (a message longer than <see cref="FederationFetch.MaxMessageLength"/> is cut). Nothing is
    /// stored (false) when there is no relationship with it; the history is deleted with the relationship.
    /// </summary>
    Task<bool> AddFetchAsync(TrustDomain trustDomain, FederationFetch fetch, CancellationToken cancellationToken);

    /// <summary>The stored fetches of <paramref name="trustDomain"/>, newest first (at most <see cref="FederationFetch.HistoryLimit"/>).</summary>
    Task<IReadOnlyList<FederationFetch>> ListFetchesAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    // ---- held bundle sequences (issue 15 item 4) ----

    /// <summary>
    /// Replaces, in one transaction, what <paramref name="agent"/> reported holding: its previous rows
    /// go, and a row per trust domain of <paramref name="held"/> that has a relationship is stored with
    /// now as its report time (others are skipped; a trust domain named twice is stored once). Returns
    /// how many rows were stored. Deleted with the relationship.
    /// </summary>
    Task<int> SetHeldBundlesAsync(SpiffeId agent, IReadOnlyList<(TrustDomain TrustDomain, ulong Sequence)> held, CancellationToken cancellationToken);

    /// <summary>Every agent's last report of the bundle of <paramref name="trustDomain"/> it holds, ordered by agent.</summary>
    Task<IReadOnlyList<FederationHeldBundle>> ListHeldBundlesAsync(TrustDomain trustDomain, CancellationToken cancellationToken);

    // ---- communication policy ----

    /// <summary>The trust domain's communication policy; null when none was ever applied.</summary>
    Task<StoredPolicy?> GetPolicyAsync(CancellationToken cancellationToken);

    /// <summary>The stored policy's version without its text (cheap enough to poll); 0 when none was ever applied.</summary>
    Task<long> GetPolicyVersionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the policy, replacing the one stored: when <paramref name="document"/> differs from
    /// the stored text (ordinal), with version = stored version + 1 (1 for the first) and
    /// <c>UpdatedAt</c> = now; otherwise leaves the stored one as it is. Returns what is stored and
    /// whether it changed. Safe under concurrent writers: a version never repeats or goes down.
    /// The caller validates the document; the store keeps it verbatim.
    /// </summary>
    Task<(StoredPolicy Policy, bool Changed)> PutPolicyAsync(string name, string document, CancellationToken cancellationToken);
}
