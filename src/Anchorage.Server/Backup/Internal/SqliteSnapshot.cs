using System.Globalization;
using Anchorage.Server.DataStore.Sqlite;
using Microsoft.Data.Sqlite;

namespace Anchorage.Server.Backup.Internal;

/// <summary>
/// A consistent copy of a live SQLite datastore through SQLite's online backup API
/// (https://sqlite.org/backup.html): one step over a read transaction, which in WAL mode neither
/// waits for nor blocks the serving server's writers. The copy is a single file (rollback journal).
/// </summary>
internal static class SqliteSnapshot
{
    /// <summary>Copies <paramref name="source"/> to the new file <paramref name="destination"/>; returns the copy's schema version.</summary>
    /// <exception cref="BackupException">The source is missing, not a database, or the copy fails its integrity check.</exception>
    public static async Task<int> CopyAsync(string source, string destination, CancellationToken cancellationToken)
    {
        if (!File.Exists(source))
        {
            throw new BackupException($"no datastore at \"{source}\"");
        }

        try
        {
            // ReadWrite, not ReadOnly: a WAL reader may have to create the -shm index; never creates the database.
            var src = new SqliteConnection(ConnectionString(source, SqliteOpenMode.ReadWrite));
            await using (src.ConfigureAwait(false))
            {
                await src.OpenAsync(cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(src, "PRAGMA busy_timeout = 5000", cancellationToken).ConfigureAwait(false);
                var dst = new SqliteConnection(ConnectionString(destination, SqliteOpenMode.ReadWriteCreate));
                await using (dst.ConfigureAwait(false))
                {
                    await dst.OpenAsync(cancellationToken).ConfigureAwait(false);
                    src.BackupDatabase(dst);
                    await ExecuteAsync(dst, "PRAGMA journal_mode = DELETE", cancellationToken).ConfigureAwait(false);
                    var check = await ExecuteAsync(dst, "PRAGMA quick_check", cancellationToken).ConfigureAwait(false) as string;
                    if (check != "ok")
                    {
                        throw new BackupException($"the snapshot of \"{source}\" failed its integrity check: {check}");
                    }

                    return await SchemaVersionAsync(dst, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (SqliteException ex)
        {
            throw new BackupException($"cannot back up \"{source}\": {ex.Message}", ex);
        }
    }

    /// <summary>The highest version in the file's <c>schema_version</c> table; 0 when there is none.</summary>
    /// <exception cref="BackupException">The file is not an SQLite database.</exception>
    public static async Task<int> SchemaVersionAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var c = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadOnly));
            await using (c.ConfigureAwait(false))
            {
                await c.OpenAsync(cancellationToken).ConfigureAwait(false);
                return await SchemaVersionAsync(c, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (SqliteException ex)
        {
            throw new BackupException($"\"{path}\" is not a datastore: {ex.Message}", ex);
        }
    }

    private static async Task<int> SchemaVersionAsync(SqliteConnection c, CancellationToken cancellationToken)
    {
        var exists = await ExecuteAsync(c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(exists, CultureInfo.InvariantCulture) == 0
            ? 0
            : Convert.ToInt32(await ExecuteAsync(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    private static string ConnectionString(string path, SqliteOpenMode mode)
    {
        SqliteLibrary.Use();
        return Builder(path, mode).ToString();
    }

    private static SqliteConnectionStringBuilder Builder(string path, SqliteOpenMode mode) => new()
    {
        DataSource = path,
        Mode = mode,
        Pooling = false,
        DefaultTimeout = 30,
    };

    private static async Task<object?> ExecuteAsync(SqliteConnection c, string sql, CancellationToken cancellationToken)
    {
        var cmd = c.CreateCommand();
        await using (cmd.ConfigureAwait(false))
        {
            cmd.CommandText = sql;
            return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
