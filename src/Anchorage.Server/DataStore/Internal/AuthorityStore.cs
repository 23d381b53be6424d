using System.Data.Common;
using Anchorage.Server.Ca;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// The CA journal. Each state change is a conditional update of an existing row (prepared to
/// active, to old, taint, revoke) that reports whether its condition held; none inserts or
/// replaces a whole row, so a revoked authority cannot come back. Journal writes and bundle
/// publishing share one lock, so a published bundle is the journal as it is at that moment.
/// </summary>
internal sealed class AuthorityStore(SqlExecutor sql, BundleStore bundles) : SqlStoreBase(sql)
{
    private const string JournalLock = "journal";

    /// <inheritdoc/>
    /// <remarks>Ordered by kind, then id.</remarks>
    public Task<IReadOnlyList<AuthorityRecord>> ListAuthoritiesAsync(CancellationToken cancellationToken) =>
        RunAsync("list authorities", (c, ct) => ReadAuthoritiesAsync(c, null, ct), cancellationToken);

    /// <inheritdoc/>
    /// <remarks>A default <see cref="AuthorityRecord.CreatedAt"/> becomes the store's current time.</remarks>
    public Task CreateAuthorityAsync(AuthorityRecord authority, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentException.ThrowIfNullOrEmpty(authority.Id, nameof(authority));
        ArgumentException.ThrowIfNullOrEmpty(authority.ServerId, nameof(authority));
        var parameters = Rows.AuthorityParameters(authority, authority.CreatedAt == default ? Time.GetUtcNow() : authority.CreatedAt);
        return JournalWriteAsync("create authority", async (c, tx, ct) =>
        {
            try
            {
                await ExecuteAsync(c, tx, Insert("authorities", parameters), ct, parameters).ConfigureAwait(false);
            }
            catch (DbException ex) when (IsUniqueViolation(ex))
            {
                throw new DataStoreConflictException($"{Rows.AuthorityKindText(authority.Kind)} authority \"{authority.Id}\" already exists", ex);
            }

            return true;
        }, cancellationToken);
    }

    public Task<bool> ActivateAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var kindText = Rows.AuthorityKindText(kind);
        return JournalWriteAsync("activate authority", async (c, tx, ct) =>
        {
            string serverId;
            var activate = Command(
                c,
                tx,
                "UPDATE authorities SET state = 'active' WHERE kind = @kind AND id = @id AND state = 'prepared' RETURNING server_id",
                ("kind", kindText),
                ("id", id));
            await using (activate.ConfigureAwait(false))
            {
                if (await activate.ExecuteScalarAsync(ct).ConfigureAwait(false) is not string owner)
                {
                    return false;
                }

                serverId = owner;
            }

            await ExecuteAsync(
                c,
                tx,
                "UPDATE authorities SET state = 'old' WHERE kind = @kind AND server_id = @server_id AND state = 'active' AND id <> @id",
                ct,
                ("kind", kindText),
                ("server_id", serverId),
                ("id", id)).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    public Task<bool> DemoteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        ConditionalJournalWriteAsync(
            "demote authority", "UPDATE authorities SET state = 'old' WHERE kind = @kind AND id = @id AND state <> 'old'", kind, id, cancellationToken);

    public Task<bool> TaintAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken) =>
        ConditionalJournalWriteAsync(
            "taint authority",
            "UPDATE authorities SET tainted = TRUE WHERE kind = @kind AND id = @id AND state = 'old' AND NOT tainted",
            kind,
            id,
            cancellationToken);

    public Task<bool> RevokeAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var kindText = Rows.AuthorityKindText(kind);
        const string Revocable = "kind = @kind AND id = @id AND (state = 'prepared' OR (state = 'old' AND tainted))";
        return JournalWriteAsync("revoke authority", async (c, tx, ct) =>
        {
            // Remembered for the authorities timeline in the same transaction, the newest HistoryLimit per kind.
            await ExecuteAsync(
                c,
                tx,
                "INSERT INTO revoked_authorities (kind, id, server_id, tainted, not_before, not_after, revoked_at) " +
                "SELECT kind, id, server_id, tainted, not_before, not_after, @now FROM authorities WHERE " + Revocable + " " +
                "ON CONFLICT (kind, id) DO NOTHING",
                ct,
                ("kind", kindText),
                ("id", id),
                ("now", Rows.ToUnixMs(Time.GetUtcNow()))).ConfigureAwait(false);
            var revoked = await ExecuteAsync(c, tx, "DELETE FROM authorities WHERE " + Revocable, ct, ("kind", kindText), ("id", id)).ConfigureAwait(false) > 0;
            await ExecuteAsync(
                c,
                tx,
                "DELETE FROM revoked_authorities WHERE kind = @kind AND id NOT IN " +
                "(SELECT id FROM revoked_authorities WHERE kind = @kind ORDER BY revoked_at DESC, id LIMIT " + RevokedAuthority.HistoryLimit + ")",
                ct,
                ("kind", kindText)).ConfigureAwait(false);
            return revoked;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<RevokedAuthority>> ListRevokedAuthoritiesAsync(CancellationToken cancellationToken) =>
        RunAsync<IReadOnlyList<RevokedAuthority>>("list revoked authorities", async (c, ct) =>
        {
            var cmd = Command(c, null, "SELECT kind, id, server_id, tainted, not_before, not_after, revoked_at FROM revoked_authorities ORDER BY kind, revoked_at DESC, id");
            await using var cmdScope = cmd.ConfigureAwait(false);
            var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            await using var readerScope = reader.ConfigureAwait(false);
            var list = new List<RevokedAuthority>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var kind = reader.GetString(0) switch
                {
                    "x509" => AuthorityKind.X509,
                    "jwt" => AuthorityKind.Jwt,
                    var other => throw CorruptData.Row("revoked_authorities", reader.GetString(1), "kind", $"\"{other}\" is not x509 or jwt"),
                };
                list.Add(new RevokedAuthority(
                    kind,
                    reader.GetString(1),
                    reader.GetString(2),
                    reader.GetBoolean(3),
                    Rows.FromUnixMs(reader.GetInt64(4)),
                    Rows.FromUnixMs(reader.GetInt64(5)),
                    Rows.FromUnixMs(reader.GetInt64(6))));
            }

            return list;
        }, cancellationToken);

    public Task<bool> DeleteAuthorityAsync(AuthorityKind kind, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return ConditionalJournalWriteAsync("delete authority", "DELETE FROM authorities WHERE kind = @kind AND id = @id", kind, id, cancellationToken);
    }

    /// <summary>
    /// Reads the journal inside the publishing transaction, under the journal lock, and publishes the
    /// bundle built from it (see <see cref="BundleStore.PublishBundleAsync(SpiffeBundle, CancellationToken)"/> for the sequence rules).
    /// </summary>
    public Task<StoredBundle> PublishBundleAsync(
        TrustDomain trustDomain, Func<IReadOnlyList<AuthorityRecord>, SpiffeBundle> fromJournal, CancellationToken cancellationToken)
    {
        ThrowIfEmpty(trustDomain, nameof(trustDomain));
        ArgumentNullException.ThrowIfNull(fromJournal);
        return bundles.PublishCoreAsync(trustDomain, async (c, tx, ct) =>
        {
            await LockAsync(c, tx, JournalLock, ct).ConfigureAwait(false);
            var bundle = fromJournal(await ReadAuthoritiesAsync(c, tx, ct).ConfigureAwait(false));
            if (bundle.TrustDomain != trustDomain)
            {
                throw new ArgumentException($"the bundle built from the journal is for {bundle.TrustDomain}, not {trustDomain}", nameof(fromJournal));
            }

            return bundle;
        }, cancellationToken);
    }

    private static async Task<IReadOnlyList<AuthorityRecord>> ReadAuthoritiesAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        var cmd = Command(c, tx, $"SELECT {Rows.AuthorityColumns} FROM authorities ORDER BY kind, id");
        await using var cmdScope = cmd.ConfigureAwait(false);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        var list = new List<AuthorityRecord>();
        while (await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            list.Add(Rows.ReadAuthority(reader));
        }

        return list;
    }

    /// <summary>One journal write in a transaction holding the journal lock (which bundle publishing takes too).</summary>
    private Task<T> JournalWriteAsync<T>(string operation, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        RunWriteAsync(operation, async (c, tx, ct) =>
        {
            await LockAsync(c, tx, JournalLock, ct).ConfigureAwait(false);
            var result = await body(c, tx, ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return result;
        }, cancellationToken);

    private Task<bool> ConditionalJournalWriteAsync(string operation, string sql, AuthorityKind kind, string id, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var kindText = Rows.AuthorityKindText(kind);
        return JournalWriteAsync(operation, async (c, tx, ct) =>
            await ExecuteAsync(c, tx, sql, ct, ("kind", kindText), ("id", id)).ConfigureAwait(false) > 0,
            cancellationToken);
    }
}
