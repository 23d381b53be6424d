using System.Data.Common;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>What every per-resource store shares: the executor and its helpers, under short names.</summary>
internal abstract class SqlStoreBase(SqlExecutor sql)
{
    protected SqlExecutor Sql => sql;

    protected TimeProvider Time => sql.Time;

    protected Task<T> RunAsync<T>(string operation, Func<DbConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        sql.RunAsync(operation, body, cancellationToken);

    /// <summary>
    /// Runs <paramref name="body"/> in a write transaction of its own (the backend's kind: SQLite's
    /// takes the write lock at once), retried whole by the executor; the body commits, and whatever
    /// it did not commit is rolled back when the transaction is disposed.
    /// </summary>
    protected Task<T> RunWriteAsync<T>(string operation, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        sql.RunAsync(
            operation,
            async (c, ct) =>
            {
                var tx = await BeginWriteAsync(c, ct).ConfigureAwait(false);
                await using var txScope = tx.ConfigureAwait(false);
                return await body(c, tx, ct).ConfigureAwait(false);
            },
            cancellationToken);

    private ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        sql.Backend.BeginWriteAsync(connection, cancellationToken);

    protected Task LockAsync(DbConnection connection, DbTransaction transaction, string name, CancellationToken cancellationToken) =>
        sql.Backend.LockAsync(connection, transaction, name, cancellationToken);

    /// <summary>
    /// The trust domain's lock, held by every write of its bundle and by DeleteRelationshipAsync, so
    /// the bundle and the rows that hang off its relationship change one writer at a time.
    /// </summary>
    protected Task LockTrustDomainAsync(DbConnection connection, DbTransaction transaction, TrustDomain trustDomain, CancellationToken cancellationToken) =>
        LockAsync(connection, transaction, "bundle:" + trustDomain.Name, cancellationToken);

    /// <summary>
    /// Takes the trust domain's lock, then tells whether it has a federation relationship: what the
    /// transaction writes for that relationship then never outlives it (the delete waits on the lock).
    /// </summary>
    protected async Task<bool> LockRelationshipAsync(DbConnection connection, DbTransaction transaction, TrustDomain trustDomain, CancellationToken cancellationToken)
    {
        await LockTrustDomainAsync(connection, transaction, trustDomain, cancellationToken).ConfigureAwait(false);
        var cmd = Command(connection, transaction, "SELECT 1 FROM federation_relationships WHERE trust_domain = @td", ("td", trustDomain.Name));
        await using var cmdScope = cmd.ConfigureAwait(false);
        return await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null and not DBNull;
    }

    protected bool IsUniqueViolation(DbException exception) => sql.Backend.IsUniqueViolation(exception);

    protected static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters) =>
        SqlExecutor.Command(c, tx, sql, parameters);

    protected static Task<int> ExecuteAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters) =>
        SqlExecutor.ExecuteAsync(c, tx, sql, ct, parameters);

    protected static string Insert(string table, (string Name, object? Value)[] parameters) =>
        $"INSERT INTO {table} ({string.Join(", ", parameters.Select(p => p.Name))}) VALUES ({string.Join(", ", parameters.Select(p => "@" + p.Name))})";

    protected static void ThrowIfEmpty(SpiffeId id, string paramName)
    {
        if (id.IsEmpty)
        {
            throw new ArgumentException("spiffe id is empty", paramName);
        }
    }

    protected static void ThrowIfEmpty(TrustDomain trustDomain, string paramName)
    {
        if (trustDomain.IsEmpty)
        {
            throw new ArgumentException("trust domain is empty", paramName);
        }
    }
}
