using System.Globalization;
using Anchorage.Server.DataStore.Migrations;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>Brings a database to <see cref="SchemaMigrations.Latest"/>: the missing migrations, one transaction each, under the schema lock.</summary>
internal sealed class SchemaMigrator(SqlExecutor sql)
{
    /// <summary>Applies the missing migrations; returns the schema version.</summary>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this build knows.</exception>
    public async Task<int> MigrateAsync(CancellationToken cancellationToken)
    {
        var backend = sql.Backend;
        var c = await backend.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cScope = c.ConfigureAwait(false);
        var version = 0;
        foreach (var migration in SchemaMigrations.All)
        {
            var tx = await backend.BeginWriteAsync(c, cancellationToken).ConfigureAwait(false);
            await using var txScope = tx.ConfigureAwait(false);
            await backend.LockAsync(c, tx, "schema", cancellationToken).ConfigureAwait(false);
            await SqlExecutor.ExecuteAsync(c, tx, backend.SchemaVersionTableSql, cancellationToken).ConfigureAwait(false);
            var read = SqlExecutor.Command(c, tx, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
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
                await SqlExecutor.ExecuteAsync(c, tx, backend.MigrationSql(migration), cancellationToken).ConfigureAwait(false);
                await SqlExecutor.ExecuteAsync(
                    c,
                    tx,
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (@version, @description, @applied_at)",
                    cancellationToken,
                    ("version", migration.Version),
                    ("description", migration.Description),
                    ("applied_at", Rows.ToUnixMs(sql.Time.GetUtcNow()))).ConfigureAwait(false);
                version = migration.Version;
                DataStoreLog.MigrationApplied(sql.Logger, migration.Version, migration.Description);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return version;
    }
}
