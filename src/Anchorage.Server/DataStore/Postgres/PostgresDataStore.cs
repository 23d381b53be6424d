using System.Buffers.Binary;
using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Server.DataStore.Internal;
using Anchorage.Server.DataStore.Migrations;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Anchorage.Server.DataStore.Postgres;

/// <summary>
/// The shared datastore: a PostgreSQL database that several servers of one trust domain use at once.
/// Transactions run at READ COMMITTED with explicit locks where a read decides a write: the
/// revision counter row (<c>UPDATE ... RETURNING</c> holds its lock to commit, so entry writes
/// commit in revision order), a transaction-scoped advisory lock per trust domain for bundle
/// publishing, and one for migrations. Serialization failures and deadlocks (40001, 40P01) are
/// retried a few times.
/// </summary>
internal sealed class PostgresDataStore : SqlDataStore
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _location;

    private PostgresDataStore(NpgsqlDataSource dataSource, string location, TimeProvider timeProvider, ILogger logger)
        : base(timeProvider, logger)
    {
        _dataSource = dataSource;
        _location = location;
    }

    public override string BackendName => "postgres";

    internal override string Location => _location;

    public override string SchemaVersionTableSql =>
        "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL)";

    /// <summary>Connects and brings the schema up to date (the tables go to the first schema on the search path).</summary>
    /// <exception cref="DataStoreUnavailableException">The server cannot be reached or refuses the login or database.</exception>
    /// <exception cref="InvalidOperationException">The schema is newer than this build knows.</exception>
    public static async Task<PostgresDataStore> OpenAsync(string connectionString, TimeProvider timeProvider, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var location = $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
        var store = new PostgresDataStore(NpgsqlDataSource.Create(builder), location, timeProvider, logger);
        try
        {
            var version = await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
            DataStoreLog.Opened(logger, store.BackendName, location, version);
            return store;
        }
        catch (NpgsqlException ex)
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw new DataStoreUnavailableException($"cannot open postgres database {location}: {store.Describe(ex)}", ex);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    public override async Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken)
    {
        var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", (NpgsqlConnection)connection, (NpgsqlTransaction)transaction);
        await using var cmdScope = cmd.ConfigureAwait(false);
        cmd.Parameters.AddWithValue("key", LockKey(name));
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override string MigrationSql(Migration migration) => migration.Postgres;

    public override bool IsUniqueViolation(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override bool IsRetryable(DbException exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected };

    public override bool IsUnavailable(DbException exception) => exception switch
    {
        // Connection classes: 08 connection exception, 53 insufficient resources, 57P0x shutdown, 28 login.
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) ||
                                pg.SqlState.StartsWith("53", StringComparison.Ordinal) ||
                                pg.SqlState.StartsWith("57P0", StringComparison.Ordinal) ||
                                pg.SqlState.StartsWith("28", StringComparison.Ordinal) ||
                                pg.SqlState == PostgresErrorCodes.InvalidCatalogName,
        NpgsqlException => true,
        _ => false,
    };

    /// <summary>The server's message or the network error; Npgsql puts no connection-string values in either.</summary>
    public override string Describe(Exception exception)
    {
        if (exception is PostgresException pg)
        {
            return $"{pg.SqlState}: {pg.MessageText}";
        }

        var text = new StringBuilder(exception.Message);
        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            text.Append(": ").Append(inner.Message);
        }

        return text.ToString();
    }

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    /// <inheritdoc/>
    /// <remarks>One round trip (<c>SELECT 1</c>); a lost connection is a transient condition, reported, never fatal.</remarks>
    public override async Task<string?> CheckHealthAsync(CancellationToken cancellationToken)
    {
        try
        {
            var cmd = _dataSource.CreateCommand("SELECT 1");
            await using var cmdScope = cmd.ConfigureAwait(false);
            await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (NpgsqlException ex)
        {
            return $"postgres database {_location} unavailable: {Describe(ex)}";
        }
    }

    private static long LockKey(string name) =>
        BinaryPrimitives.ReadInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes("anchorage:" + name)));
}
