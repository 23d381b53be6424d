using System.Data;
using System.Data.Common;
using Anchorage.Server.DataStore.Internal;
using Anchorage.Server.DataStore.Migrations;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.DataStore.Sqlite;

/// <summary>
/// The embedded datastore: one SQLite file (normally <c>&lt;dataDir&gt;/datastore.db</c>) for one server.
/// WAL journal (readers never wait for the writer), <c>synchronous=FULL</c> (a committed write
/// survives power loss), <c>busy_timeout</c> 5 s, foreign keys on. Read-then-write operations
/// begin with <c>BEGIN IMMEDIATE</c>, taking the database write lock before they read, so they
/// serialize instead of failing with SQLITE_BUSY on the upgrade from reader to writer.
/// The file is created 0600 (SQLite gives its <c>-wal</c> and <c>-shm</c> files the database file's
/// mode), and checked with <c>PRAGMA quick_check</c> at open and by <see cref="CheckHealthAsync"/>:
/// a damaged file is refused, not served.
/// </summary>
internal sealed class SqliteDataStore : SqlDataStore
{
    private const int BusyTimeoutMs = 5000;

    // SQLite primary result codes (https://sqlite.org/rescode.html).
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteIoErr = 10;
    private const int SqliteCorrupt = 11;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;
    private const int SqliteConstraint = 19;
    private const int SqliteNotADb = 26;
    private const int SqliteConstraintPrimaryKey = 1555;
    private const int SqliteConstraintUnique = 2067;

    private static readonly TimeSpan HealthCheckInterval = TimeSpan.FromSeconds(10);

    private readonly string _connectionString;
    private readonly string _path;
    private (DateTimeOffset At, string? Problem)? _lastHealth;

    private SqliteDataStore(string path, TimeProvider timeProvider, ILogger logger)
        : base(timeProvider, logger)
    {
        SqliteLibrary.Use();
        _path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    public override string BackendName => "sqlite";

    internal override string Location => _path;

    public override string SchemaVersionTableSql =>
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL)";

    /// <summary>Opens (creating if needed) the database file and brings its schema up to date.</summary>
    /// <exception cref="DataStoreUnavailableException">The file cannot be opened (missing directory, permissions, locked, disk full).</exception>
    /// <exception cref="InvalidDataException">The file is not an SQLite database.</exception>
    /// <exception cref="InvalidOperationException">The schema is newer than this build knows.</exception>
    public static async Task<SqliteDataStore> OpenAsync(string path, TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var store = new SqliteDataStore(path, timeProvider, logger);
        try
        {
            RestrictFileModes(path);
            var c = await store.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (c.ConfigureAwait(false))
            {
                var cmd = c.CreateCommand();
                await using var cmdScope = cmd.ConfigureAwait(false);
                cmd.CommandText = "PRAGMA journal_mode = WAL";
                var mode = (string?)await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) ?? string.Empty;
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                {
                    DataStoreLog.JournalModeNotWal(logger, mode);
                }

                if (await QuickCheckAsync(c, cancellationToken).ConfigureAwait(false) is { } problem)
                {
                    throw Damaged(path, problem);
                }
            }

            var version = await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            DataStoreLog.Opened(logger, store.BackendName, path, version);
            return store;
        }
        catch (SqliteException ex)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            if (ex.SqliteErrorCode is SqliteNotADb or SqliteCorrupt)
            {
                throw new InvalidDataException($"sqlite database \"{path}\" is not a database or is corrupt: {ex.Message}", ex);
            }

            throw new DataStoreUnavailableException($"cannot open sqlite database \"{path}\": {ex.Message}", ex);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var c = new SqliteConnection(_connectionString);
        try
        {
            await c.OpenAsync(cancellationToken).ConfigureAwait(false);
            var cmd = c.CreateCommand();
            await using var cmdScope = cmd.ConfigureAwait(false);

            // Per connection (pooled connections keep them): wait for the write lock, fsync each commit.
            cmd.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMs}; PRAGMA synchronous = FULL;";
            await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(IsolationLevel.Serializable, deferred: false));

    // BEGIN IMMEDIATE already excludes every other writer of the file.
    public override Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public override string MigrationSql(Migration migration) => migration.Sqlite;

    /// <inheritdoc/>
    /// <remarks><c>PRAGMA quick_check</c> (page structure, not index contents): O(size of the file), so callers poll it sparingly.</remarks>
    public override async Task<string?> CheckHealthAsync(CancellationToken cancellationToken)
    {
        // Readiness probes may poll every second: check at most once per interval, answer the last finding meanwhile.
        var now = Time.GetUtcNow();
        if (_lastHealth is { } last && now - last.At < HealthCheckInterval)
        {
            return last.Problem;
        }

        string? problem;
        try
        {
            var c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var cScope = c.ConfigureAwait(false);
            problem = await QuickCheckAsync(c, cancellationToken).ConfigureAwait(false) is { } finding ? Damaged(_path, finding).Message : null;
        }
        catch (SqliteException ex)
        {
            problem = ex.SqliteErrorCode is SqliteNotADb or SqliteCorrupt
                ? Damaged(_path, ex.Message).Message
                : $"sqlite database \"{_path}\" cannot be read: {ex.Message}";
        }

        _lastHealth = (now, problem);
        return problem;
    }

    /// <summary>Null when <c>PRAGMA quick_check</c> answers ok; else its first finding.</summary>
    private static async Task<string?> QuickCheckAsync(DbConnection c, CancellationToken cancellationToken)
    {
        var cmd = c.CreateCommand();
        await using var cmdScope = cmd.ConfigureAwait(false);
        cmd.CommandText = "PRAGMA quick_check(1)";
        var result = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        return string.Equals(result, "ok", StringComparison.Ordinal) ? null : (result ?? "no answer").ReplaceLineEndings(" ");
    }

    private static InvalidDataException Damaged(string path, string problem) =>
        new($"sqlite database \"{path}\" is damaged (quick_check: {problem}); the server does not serve from a damaged store: restore it from a backup");

    /// <summary>
    /// Creates the database file 0600 when absent, and takes group and other access away from an
    /// existing one and its <c>-wal</c>/<c>-shm</c> files (SQLite creates those with the database's mode).
    /// </summary>
    private static void RestrictFileModes(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        if (!Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(path))))
        {
            return; // SQLite's own open reports the missing directory
        }

        try
        {
            using (new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, UnixCreateMode = ownerOnly }))
            {
            }

            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                if (File.Exists(file) && (File.GetUnixFileMode(file) & ~ownerOnly) != 0)
                {
                    File.SetUnixFileMode(file, File.GetUnixFileMode(file) & ownerOnly);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new DataStoreUnavailableException($"cannot open sqlite database \"{path}\": {ex.Message}", ex);
        }
    }

    public override bool IsUniqueViolation(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteConstraint, SqliteExtendedErrorCode: SqliteConstraintUnique or SqliteConstraintPrimaryKey };

    public override bool IsRetryable(DbException exception) => false;

    public override bool IsUnavailable(DbException exception) =>
        exception is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked or SqliteIoErr or SqliteFull or SqliteCantOpen };

    public override string Describe(Exception exception) => exception.Message;

    public override ValueTask DisposeAsync()
    {
        // Pooled connections keep the file open; release them so the file can be moved or deleted.
        using var c = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(c);
        return ValueTask.CompletedTask;
    }
}
