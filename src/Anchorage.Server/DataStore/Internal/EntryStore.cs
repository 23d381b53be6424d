using System.Data.Common;
using System.Globalization;
using System.Text;
using Anchorage.Server.Registration;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// Registration entries (tables <c>entries</c>, <c>entry_selectors</c>, <c>entry_federates_with</c>,
/// <c>entry_tombstones</c>). One counter (<c>counters.revision</c>) numbers every entry write,
/// creations, updates and deletion tombstones alike; every write increments it first inside its
/// transaction, which takes the counter row's write lock, so entry writes commit in revision order
/// and <see cref="ListEntryChangesAsync"/> is exact. Duplicates (same SPIFFE ID, parent and selector
/// set) are refused by a unique index over a hash of the three, checked under the same lock.
/// </summary>
internal sealed class EntryStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    public Task<RegistrationEntry> CreateEntryAsync(RegistrationEntry entry, CancellationToken cancellationToken)
    {
        ValidateEntry(entry);
        return RunWriteAsync("create entry", async (c, tx, ct) =>
        {
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
        return RunWriteAsync("update entry", async (c, tx, ct) =>
        {
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
        return RunWriteAsync("delete entry", async (c, tx, ct) =>
        {
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
        var after = query.PageToken is null ? null : PageToken.Decode(query.PageToken);
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
            return new EntryPage(entries, PageToken.Encode(entries[^1].Id));
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
}
