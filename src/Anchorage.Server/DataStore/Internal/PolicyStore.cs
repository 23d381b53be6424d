using System.Data.Common;
using System.Globalization;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>The trust domain's communication policy (table <c>policy</c>, one row, schema version 4).</summary>
internal sealed class PolicyStore(SqlExecutor sql) : SqlStoreBase(sql)
{
    private const string PolicyColumns = "name, document, version, updated_at";

    public Task<StoredPolicy?> GetPolicyAsync(CancellationToken cancellationToken) =>
        RunAsync("get policy", (c, ct) => ReadPolicyAsync(c, null, ct), cancellationToken);

    public Task<long> GetPolicyVersionAsync(CancellationToken cancellationToken) =>
        RunAsync("get policy version", async (c, ct) =>
        {
            var cmd = Command(c, null, "SELECT version FROM policy WHERE id = 1");
            await using var cmdScope = cmd.ConfigureAwait(false);
            return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is { } value and not DBNull
                ? Convert.ToInt64(value, CultureInfo.InvariantCulture)
                : 0L;
        }, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>Read, compare and write run in one transaction under the policy lock.</remarks>
    public Task<(StoredPolicy Policy, bool Changed)> PutPolicyAsync(string name, string document, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(document);
        return RunWriteAsync("put policy", async (c, tx, ct) =>
        {
            await LockAsync(c, tx, "policy", ct).ConfigureAwait(false);
            var stored = await ReadPolicyAsync(c, tx, ct).ConfigureAwait(false);
            if (stored is not null && string.Equals(stored.Document, document, StringComparison.Ordinal))
            {
                await tx.CommitAsync(ct).ConfigureAwait(false);
                return (stored, false);
            }

            var written = new StoredPolicy(name, document, checked((stored?.Version ?? 0) + 1), Rows.Stored(Time.GetUtcNow()));
            await ExecuteAsync(
                c,
                tx,
                $"INSERT INTO policy (id, {PolicyColumns}) VALUES (1, @name, @document, @version, @updated_at) " +
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, document = excluded.document, " +
                "version = excluded.version, updated_at = excluded.updated_at",
                ct,
                ("name", written.Name),
                ("document", written.Document),
                ("version", written.Version),
                ("updated_at", Rows.ToUnixMs(written.UpdatedAt))).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
            return (written, true);
        }, cancellationToken);
    }

    private static async Task<StoredPolicy?> ReadPolicyAsync(DbConnection c, DbTransaction? tx, CancellationToken ct)
    {
        var cmd = Command(c, tx, $"SELECT {PolicyColumns} FROM policy WHERE id = 1");
        await using var cmdScope = cmd.ConfigureAwait(false);
        var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await using var readerScope = reader.ConfigureAwait(false);
        if (!await reader.ReadAsync(ct).ConfigureAwait(false))
        {
            return null;
        }

        var version = Convert.ToInt64(reader.GetValue(2), CultureInfo.InvariantCulture);
        if (version < 1)
        {
            throw CorruptData.Row("policy", "1", "version", "must be at least 1");
        }

        return new StoredPolicy(reader.GetString(0), reader.GetString(1), version, Rows.FromUnixMs(reader.GetInt64(3)));
    }
}
