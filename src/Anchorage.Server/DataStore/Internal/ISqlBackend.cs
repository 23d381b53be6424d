using System.Data.Common;
using Anchorage.Server.DataStore.Migrations;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>What a database backend supplies to the shared SQL code: connections, write transactions, named locks, its schema dialect and the reading of its errors.</summary>
internal interface ISqlBackend
{
    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    string BackendName { get; }

    /// <summary>The <c>CREATE TABLE IF NOT EXISTS schema_version</c> statement of the dialect.</summary>
    string SchemaVersionTableSql { get; }

    ValueTask<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>A transaction that holds the write lock its read-then-write needs (SQLite: <c>BEGIN IMMEDIATE</c>).</summary>
    ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Takes a lock named <paramref name="name"/> until the transaction ends (no-op where the transaction already excludes writers).</summary>
    Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken);

    string MigrationSql(Migration migration);

    bool IsUniqueViolation(DbException exception);

    /// <summary>Serialization failure or deadlock: the transaction can run again.</summary>
    bool IsRetryable(DbException exception);

    /// <summary>The database cannot be reached or is busy: a transient condition.</summary>
    bool IsUnavailable(DbException exception);

    /// <summary>Why <paramref name="exception"/> happened, without credentials.</summary>
    string Describe(Exception exception);
}
