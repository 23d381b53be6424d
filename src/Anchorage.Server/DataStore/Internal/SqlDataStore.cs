using System.Buffers.Text;
using System.Data.Common;
using System.Globalization;
using System.Text;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore.Migrations;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// The datastore over plain ADO.NET, shared by both backends; each backend supplies connections,
/// write transactions, named locks and the reading of its error codes.
/// </summary>
/// <remarks>
/// <para>Revisions: one counter (<c>counters.revision</c>) numbers every entry write, creations,
/// updates and deletion tombstones alike. Every entry write first increments it inside its
/// transaction, which takes the counter row's write lock (SQLite: the database write lock of
/// <c>BEGIN IMMEDIATE</c>; PostgreSQL: the row lock of <c>UPDATE</c>); entry writes are thus
/// serialized and commit in revision order, so a reader never sees revision n+1 without n, and
/// <see cref="ListEntryChangesAsync"/> is exact. A deleted entry leaves a tombstone (id, revision);
/// re-creating the id removes it. Tombstones are kept (a later retention could prune old ones,
/// forcing agents older than the cut to resync in full).</para>
/// <para>Duplicate entries (same SPIFFE ID, parent ID and selector set) are refused by a unique
/// index over a hash of the three; the check runs under the counter lock, so it is race-free.</para>
/// <para>Bundles: publish and set run under a per-trust-domain lock (SQLite: <c>BEGIN IMMEDIATE</c>;
/// PostgreSQL: a transaction-scoped advisory lock), so concurrent publishers never repeat a sequence.</para>
/// <para>Join tokens: taken with one <c>DELETE ... RETURNING</c>; of concurrent takers exactly one gets the row.</para>
/// </remarks>
internal abstract partial class SqlDataStore : IDataStore
{
    private const int MaxAttempts = 5;

    protected SqlDataStore(TimeProvider timeProvider, ILogger logger)
    {
        Time = timeProvider;
        Logger = logger;
    }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    internal abstract string BackendName { get; }

    /// <summary>Where the database is, without credentials.</summary>
    internal abstract string Location { get; }

    internal abstract ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>A transaction that holds the write lock its read-then-write needs (SQLite: <c>BEGIN IMMEDIATE</c>).</summary>
    internal abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Takes a lock named <paramref name="name"/> until the transaction ends (no-op where the transaction already excludes writers).</summary>
    internal abstract Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken);

    internal abstract string SchemaVersionTableSql { get; }

    internal abstract string MigrationSql(Migration migration);

    internal abstract bool IsUniqueViolation(DbException exception);

    /// <summary>Serialization failure or deadlock: the transaction can run again.</summary>
    internal abstract bool IsRetryable(DbException exception);

    /// <summary>The database cannot be reached or is busy: a transient condition.</summary>
    internal abstract bool IsUnavailable(DbException exception);

    /// <summary>Why <paramref name="exception"/> happened, without credentials.</summary>
    internal abstract string Describe(Exception exception);

    public abstract ValueTask DisposeAsync();

    /// <inheritdoc/>
    public abstract Task<string?> CheckHealthAsync(CancellationToken cancellationToken);

    // ---- registration entries ----

    public Task<RegistrationEntry> CreateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken)
    {
        ValidateEntry(entry);
        return RunAsync("create entry", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            var revision = await NextRevisionAsync(c, tx, ct).ConfigureAwait(false);
            var stored = Rows.Normalize(entry, revision, Time.GetUtcNow());
            var parameters = Rows.EntryParameters(stored);
            var check = Command(c, tx, "SELECT id FROM entries WHERE id = @id OR identity_hash = @identity_hash",
                ("id", stored.Id), ("identity_hash", Rows.IdentityHash(stored)));
            await using (check.ConfigureAwait(false))
            {
                if (await check.ExecuteScalarAsync(ct).ConfigureAwait(false) is string existing)
                {
                    throw existing == stored.Id
                        ? new DataStoreConflictException($"entry \"{existing}\" already exists")
                        : Duplicate(existing);
                }
            }

            await ExecuteAsync(c, tx, "DELETE FROM entry_tombstones WHERE entry_id = @id", ct, ("id", stored.Id)).ConfigureAwait(false);
            await ExecuteAsync(
                c,
                tx,
                $"INSERT INTO entries ({string.Join(", ", parameters.Select(p => p.Name))}) VALUES ({string.Join(", ", parameters.Select(p => "@" + p.Name))})",
                ct,
                parameters).ConfigureAwait(false);
            await InsertEntryIndexAsync(c, tx, stored, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return stored;
        }, cancellationToken);
    }

    public Task<RegistrationEntry?> GetEntryAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return RunAsync("get entry", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {Rows.EntryColumns} FROM entries WHERE id = @id", ("id", id));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            return await reader.ReadAsync(ct).ConfigureAwait(false) ? Rows.ReadEntry(reader) : null;
        }, cancellationToken);
    }

    public Task<RegistrationEntry> UpdateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken)
    {
        ValidateEntry(entry);
        return RunAsync("update entry", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            var revision = await NextRevisionAsync(c, tx, ct).ConfigureAwait(false);
            long createdAt;
            var read = Command(c, tx, "SELECT created_at, revision FROM entries WHERE id = @id", ("id", entry.Id));
            await using (read.ConfigureAwait(false))
            {
                var reader = await read.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await using var readerScope = reader.ConfigureAwait(false);
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw new DataStoreNotFoundException($"entry \"{entry.Id}\" not found");
                }

                createdAt = reader.GetInt64(0);

                // Checked under the revision counter's lock, which every entry write takes first: no
                // other write can commit between this read and the update.
                var storedRevision = reader.GetInt64(1);
                if (entry.RevisionNumber != 0 && entry.RevisionNumber != storedRevision)
                {
                    throw new DataStoreStaleRevisionException(
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"entry \"{entry.Id}\" changed since it was read: it is at revision {storedRevision}, the update was made from revision {entry.RevisionNumber}; read it again"),
                        storedRevision);
                }
            }

            var stored = Rows.Normalize(entry, revision, Rows.FromUnixMs(createdAt));
            var check = Command(c, tx, "SELECT id FROM entries WHERE identity_hash = @identity_hash AND id <> @id",
                ("id", stored.Id), ("identity_hash", Rows.IdentityHash(stored)));
            await using (check.ConfigureAwait(false))
            {
                if (await check.ExecuteScalarAsync(ct).ConfigureAwait(false) is string existing)
                {
                    throw Duplicate(existing);
                }
            }

            var parameters = Rows.EntryParameters(stored).Where(p => p.Name is not ("id" or "created_at")).ToArray();
            await ExecuteAsync(
                c,
                tx,
                $"UPDATE entries SET {string.Join(", ", parameters.Select(p => p.Name + " = @" + p.Name))} WHERE id = @id",
                ct,
                [.. parameters, ("id", stored.Id)]).ConfigureAwait(false);
            await ExecuteAsync(c, tx, "DELETE FROM entry_selectors WHERE entry_id = @id", ct, ("id", stored.Id)).ConfigureAwait(false);
            await ExecuteAsync(c, tx, "DELETE FROM entry_federates_with WHERE entry_id = @id", ct, ("id", stored.Id)).ConfigureAwait(false);
            await InsertEntryIndexAsync(c, tx, stored, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return stored;
        }, cancellationToken);
    }

    public Task<bool> DeleteEntryAsync(string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return RunAsync("delete entry", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            var revision = await NextRevisionAsync(c, tx, ct).ConfigureAwait(false);

            // Selector and trust-domain rows go with the entry (ON DELETE CASCADE).
            if (await ExecuteAsync(c, tx, "DELETE FROM entries WHERE id = @id", ct, ("id", id)).ConfigureAwait(false) == 0)
            {
                // Rolled back: the revision is not used.
                return false;
            }

            await ExecuteAsync(
                c,
                tx,
                "INSERT INTO entry_tombstones (entry_id, revision) VALUES (@id, @revision) " +
                "ON CONFLICT (entry_id) DO UPDATE SET revision = excluded.revision",
                ct,
                ("id", id),
                ("revision", revision)).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Ordered by id (ordinal, UTF-8 bytes). The page token is opaque (the last id of the page,
    /// base64url); a malformed one is an <see cref="ArgumentException"/>. An empty
    /// <see cref="EntryQuery.ParentIds"/> matches nothing.
    /// </remarks>
    public Task<EntryPage> ListEntriesAsync(EntryQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.PageSize, 1, nameof(query));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(query.PageSize, 10000, nameof(query));
        var after = query.PageToken is null ? null : DecodePageToken(query.PageToken);
        if (query.ParentIds is { Count: 0 })
        {
            return Task.FromResult(new EntryPage([], null));
        }

        var sql = new StringBuilder($"SELECT {Rows.EntryColumns} FROM entries e WHERE 1 = 1");
        var parameters = new List<(string, object?)>();
        if (after is not null)
        {
            sql.Append(" AND e.id > @after");
            parameters.Add(("after", after));
        }

        if (query.ParentIds is { } parents)
        {
            var names = new List<string>();
            foreach (var parent in parents.Distinct())
            {
                var name = "parent" + names.Count.ToString(CultureInfo.InvariantCulture);
                names.Add("@" + name);
                parameters.Add((name, parent.ToString()));
            }

            sql.Append(" AND e.parent_id IN (").AppendJoin(", ", names).Append(')');
        }

        if (!query.SpiffeId.IsEmpty)
        {
            sql.Append(" AND e.spiffe_id = @spiffe_id");
            parameters.Add(("spiffe_id", query.SpiffeId.ToString()));
        }

        if (query.Selector is { } selector)
        {
            sql.Append(" AND EXISTS (SELECT 1 FROM entry_selectors s WHERE s.entry_id = e.id AND s.type = @selector_type AND s.value = @selector_value)");
            parameters.Add(("selector_type", selector.Type));
            parameters.Add(("selector_value", selector.Value));
        }

        if (!query.FederatesWith.IsEmpty)
        {
            sql.Append(" AND EXISTS (SELECT 1 FROM entry_federates_with f WHERE f.entry_id = e.id AND f.trust_domain = @federates_with)");
            parameters.Add(("federates_with", query.FederatesWith.Name));
        }

        sql.Append(" ORDER BY e.id LIMIT @limit");
        parameters.Add(("limit", query.PageSize + 1));

        return RunAsync("list entries", async (c, ct) =>
        {
            var cmd = Command(c, null, sql.ToString(), [.. parameters]);
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var entries = new List<RegistrationEntry>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                entries.Add(Rows.ReadEntry(reader));
            }

            if (entries.Count <= query.PageSize)
            {
                return new EntryPage(entries, null);
            }

            entries.RemoveAt(entries.Count - 1);
            return new EntryPage(entries, EncodePageToken(entries[^1].Id));
        }, cancellationToken);
    }

    public Task<long> CountEntriesAsync(CancellationToken cancellationToken) =>
        RunAsync("count entries", async (c, ct) =>
        {
            var cmd = Command(c, null, "SELECT COUNT(*) FROM entries");
            await using var cmdScope = cmd.ConfigureAwait(false);
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// One statement, so one snapshot. Each entry appears once, in its latest state, at its latest
    /// revision; each deleted id once, at its deletion's revision. <see cref="EntryChanges.Revision"/>
    /// is the revision of the last change returned (<paramref name="sinceRevision"/> when none), so
    /// asking again from it misses nothing and repeats nothing.
    /// </remarks>
    public Task<EntryChanges> ListEntryChangesAsync(long sinceRevision, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sinceRevision);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return RunAsync("list entry changes", async (c, ct) =>
        {
            var nulls = string.Join(", ", Enumerable.Repeat("NULL", Rows.EntryColumnCount - 2));
            var cmd = Command(
                c,
                null,
                $"SELECT FALSE AS deleted, {Rows.EntryColumns} FROM entries WHERE revision > @since " +
                $"UNION ALL SELECT TRUE, entry_id, revision, {nulls} FROM entry_tombstones WHERE revision > @since " +
                "ORDER BY 3 LIMIT @limit",
                ("since", sinceRevision),
                ("limit", (long)limit + 1));
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var upserted = new List<RegistrationEntry>();
            var deleted = new List<string>();
            var revision = sinceRevision;
            var count = 0;
            var hasMore = false;
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                if (++count > limit)
                {
                    hasMore = true;
                    break;
                }

                revision = reader.GetInt64(2);
                if (reader.GetBoolean(0))
                {
                    deleted.Add(reader.GetString(1));
                }
                else
                {
                    upserted.Add(Rows.ReadEntry(reader, 1));
                }
            }

            return new EntryChanges(upserted, deleted, revision, hasMore);
        }, cancellationToken);
    }

    // ---- bundles ----

    public Task<StoredBundle?> GetBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync("get bundle", (c, ct) => ReadBundleAsync(c, null, trustDomain, ct), cancellationToken);
    }

    /// <inheritdoc/>
    /// <remarks>Ordered by trust domain name.</remarks>
    public Task<IReadOnlyList<StoredBundle>> ListBundlesAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<StoredBundle>>("list bundles", async (c, ct) =>
        {
            var cmd = Command(c, null, $"SELECT {Rows.BundleColumns} FROM bundles ORDER BY trust_domain");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<StoredBundle>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                list.Add(Rows.ReadBundle(reader));
            }

            return list;
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// Content compared: the set of X.509 authorities (DER), the set of JWT authorities (key id and
    /// SubjectPublicKeyInfo) and the refresh hint in whole seconds (as the document stores it,
    /// SPIFFE_Trust_Domain_and_Bundle §4.1.2). Read, compare and write run in one transaction under
    /// the trust domain's lock. A stored bundle without a sequence counts as sequence 0.
    /// </remarks>
    public Task<StoredBundle> PublishBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return PublishCoreAsync(bundle.TrustDomain, (_, _, _) => Task.FromResult(bundle), cancellationToken);
    }

    private Task<StoredBundle> PublishCoreAsync(
        TrustDomain trustDomain, Func<DbConnection, DbTransaction, CancellationToken, Task<SpiffeBundle>> build, CancellationToken cancellationToken) =>
        RunAsync("publish bundle", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await LockAsync(c, tx, "bundle:" + trustDomain.Name, ct).ConfigureAwait(false);
            var bundle = await build(c, tx, ct).ConfigureAwait(false);
            var stored = await ReadBundleAsync(c, tx, trustDomain, ct).ConfigureAwait(false);
            if (stored is not null && BundleContent.SameContent(stored.Bundle, bundle))
            {
                await tx.CommitAsync(ct).ConfigureAwait(false);
                return stored;
            }

            var sequence = checked((stored?.Bundle.SequenceNumber ?? 0) + 1);
            var published = new SpiffeBundle(
                bundle.TrustDomain,
                bundle.X509Authorities,
                bundle.JwtAuthorities,
                sequence,
                BundleContent.NormalizeHint(bundle.RefreshHint));
            var result = await WriteBundleAsync(c, tx, published, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken);

    public Task<StoredBundle> SetBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return RunAsync("set bundle", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await LockAsync(c, tx, "bundle:" + bundle.TrustDomain.Name, ct).ConfigureAwait(false);
            var result = await WriteBundleAsync(c, tx, bundle, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken);
    }

    public Task<StoredBundle?> SetFederatedBundleAsync(SpiffeBundle bundle, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return RunAsync("set federated bundle", async (c, ct) =>
        {
            var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await LockAsync(c, tx, "bundle:" + bundle.TrustDomain.Name, ct).ConfigureAwait(false);
            var check = Command(c, tx, "SELECT 1 FROM federation_relationships WHERE trust_domain = @td", ("td", bundle.TrustDomain.Name));
            await using (check.ConfigureAwait(false))
            {
                if (await check.ExecuteScalarAsync(ct).ConfigureAwait(false) is null or DBNull)
                {
                    return null;
                }
            }

            var result = await WriteBundleAsync(c, tx, bundle, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return (StoredBundle?)result;
        }, cancellationToken);
    }

    public Task<bool> DeleteBundleAsync(TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        return RunAsync("delete bundle", async (c, ct) =>
            await ExecuteAsync(c, null, "DELETE FROM bundles WHERE trust_domain = @td", ct, ("td", trustDomain.Name)).ConfigureAwait(false) > 0,
            cancellationToken);
    }

    // ---- schema ----

    /// <summary>Applies the missing migrations, one transaction each, under the schema lock; returns the schema version.</summary>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this build knows.</exception>
    internal async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cScope = c.ConfigureAwait(false);
        var version = 0;
        foreach (var migration in SchemaMigrations.All)
        {
            var tx = await BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await LockAsync(c, tx, "schema", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(c, tx, SchemaVersionTableSql, cancellationToken).ConfigureAwait(false);
            var read = Command(c, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
            await using (read.ConfigureAwait(false))
            {
                version = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            }

            if (version > SchemaMigrations.Latest)
            {
                throw new InvalidOperationException(
                    $"datastore schema version {version} is newer than this server supports ({SchemaMigrations.Latest}); " +
                    "run a newer server or restore a backup");
            }

            if (version < migration.Version)
            {
                await ExecuteAsync(c, tx, MigrationSql(migration), cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(
                    c,
                    tx,
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (@version, @description, @applied_at)",
                    cancellationToken,
                    ("version", migration.Version),
                    ("description", migration.Description),
                    ("applied_at", Rows.ToUnixMs(Time.GetUtcNow()))).ConfigureAwait(false);
                version = migration.Version;
                DataStoreLog.MigrationApplied(Logger, migration.Version, migration.Description);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return version;
    }

    // ---- helpers ----

    /// <summary>Runs one operation on its own connection; retries serialization failures, maps outages.</summary>
    private async Task<T> RunAsync<T>(string operation, Func<DbConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var cScope = c.ConfigureAwait(false);
                return await body(c, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException ex) when (IsRetryable(ex))
            {
                if (attempt == MaxAttempts)
                {
                    throw new DataStoreConflictException(
                        $"datastore {operation}: transaction still conflicting after {MaxAttempts} attempts", ex);
                }

                DataStoreLog.TransactionRetried(Logger, operation, attempt);
            }
            catch (DbException ex) when (IsUnavailable(ex))
            {
                throw new DataStoreUnavailableException($"datastore {operation} failed: {Describe(ex)}", ex);
            }
        }
    }

    private static async Task<long> NextRevisionAsync(DbConnection c, DbTransaction tx, CancellationToken ct)
    {
        var cmd = Command(c, tx, "UPDATE counters SET value = value + 1 WHERE name = 'revision' RETURNING value");
        await using var cmdScope = cmd.ConfigureAwait(false);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static async Task InsertEntryIndexAsync(DbConnection c, DbTransaction tx, RegistrationEntry stored, CancellationToken ct)
    {
        foreach (var selector in stored.Selectors)
        {
            await ExecuteAsync(
                c,
                tx,
                "INSERT INTO entry_selectors (entry_id, type, value) VALUES (@id, @type, @value)",
                ct,
                ("id", stored.Id),
                ("type", selector.Type),
                ("value", selector.Value)).ConfigureAwait(false);
        }

        foreach (var trustDomain in stored.FederatesWith)
        {
            await ExecuteAsync(
                c,
                tx,
                "INSERT INTO entry_federates_with (entry_id, trust_domain) VALUES (@id, @td)",
                ct,
                ("id", stored.Id),
                ("td", trustDomain.Name)).ConfigureAwait(false);
        }
    }

    private static DataStoreConflictException Duplicate(string existing) =>
        new($"entry duplicates entry \"{existing}\": same spiffe id, parent id and selectors");

    private static async Task<StoredBundle?> ReadBundleAsync(DbConnection c, DbTransaction? tx, TrustDomain trustDomain, CancellationToken ct)
    {
        var cmd = Command(c, tx, $"SELECT {Rows.BundleColumns} FROM bundles WHERE trust_domain = @td", ("td", trustDomain.Name));
        await using var cmdScope = cmd.ConfigureAwait(false);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        return await reader.ReadAsync(ct).ConfigureAwait(false) ? Rows.ReadBundle(reader) : null;
    }

    private async Task<StoredBundle> WriteBundleAsync(DbConnection c, DbTransaction tx, SpiffeBundle bundle, CancellationToken ct)
    {
        var document = Encoding.UTF8.GetString(bundle.ToUtf8Json());
        var updatedAt = Rows.Stored(Time.GetUtcNow());
        await ExecuteAsync(
            c,
            tx,
            "INSERT INTO bundles (trust_domain, document, updated_at) VALUES (@td, @document, @updated_at) " +
            "ON CONFLICT (trust_domain) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
            ct,
            ("td", bundle.TrustDomain.Name),
            ("document", document),
            ("updated_at", Rows.ToUnixMs(updatedAt))).ConfigureAwait(false);
        return new StoredBundle(bundle, updatedAt);
    }

    private static string Insert(string table, (string Name, object? Value)[] parameters) =>
        $"INSERT INTO {table} ({string.Join(", ", parameters.Select(p => p.Name))}) VALUES ({string.Join(", ", parameters.Select(p => "@" + p.Name))})";

    private static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var cmd = c.CreateCommand();
#pragma warning disable CA2100 // SQL text is built from constants; every value is a parameter.
        cmd.CommandText = sql;
#pragma warning restore CA2100
        cmd.Transaction = tx;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = "@" + name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }

        return cmd;
    }

    private static async Task<int> ExecuteAsync(
        DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        var cmd = Command(c, tx, sql, parameters);
        await using var cmdScope = cmd.ConfigureAwait(false);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static string EncodePageToken(string lastId) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastId));

    private static string DecodePageToken(string token)
    {
        try
        {
            var id = new UTF8Encoding(false, true).GetString(Base64Url.DecodeFromChars(token));
            if (id.Length > 0)
            {
                return id;
            }
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            throw new ArgumentException("page token is not valid", nameof(token), ex);
        }

        throw new ArgumentException("page token is not valid", nameof(token));
    }

    private static void ValidateEntry(RegistrationEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentException.ThrowIfNullOrEmpty(entry.Id, nameof(entry));
        ThrowIfEmpty(entry.SpiffeId, nameof(entry));
        ThrowIfEmpty(entry.ParentId, nameof(entry));
        if (entry.Selectors.IsDefaultOrEmpty)
        {
            throw new ArgumentException($"entry \"{entry.Id}\" has no selectors", nameof(entry));
        }
    }

    private static void ValidateNode(AttestedNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        ThrowIfEmpty(node.SpiffeId, nameof(node));
        if ((node.PendingCertSerial is null) != (node.PendingCertNotAfter is null))
        {
            throw new ArgumentException($"node \"{node.SpiffeId}\" must have both or neither of a pending serial and not-after", nameof(node));
        }
    }

    private static void ThrowIfEmpty(SpiffeId id, string paramName)
    {
        if (id.IsEmpty)
        {
            throw new ArgumentException("spiffe id is empty", paramName);
        }
    }

    private static void ThrowIfEmpty(TrustDomain trustDomain, string paramName)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", paramName);
        }
    }
}
