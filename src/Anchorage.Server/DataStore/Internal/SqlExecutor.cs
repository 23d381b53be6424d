using System.Data.Common;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// Runs every datastore operation: one connection per operation, serialization failures retried
/// by the one <see cref="RetryPolicy"/>, outages mapped to <see cref="DataStoreUnavailableException"/>;
/// and the one way commands are built (SQL text from constants, every value a parameter).
/// </summary>
internal sealed class SqlExecutor(ISqlBackend backend, TimeProvider time, ILogger logger, RetryPolicy retry)
{
    public ISqlBackend Backend => backend;

    public TimeProvider Time => time;

    public ILogger Logger => logger;

    /// <summary>Runs one operation on its own connection; retries serialization failures with backoff and jitter, maps outages.</summary>
    public async Task<T> RunAsync<T>(string operation, Func<DbConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var c = await backend.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using var cScope = c.ConfigureAwait(false);
                return await body(c, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException ex) when (backend.IsRetryable(ex))
            {
                if (attempt == RetryPolicy.MaxAttempts)
                {
                    throw new DataStoreConflictException(
                        $"datastore {operation}: transaction still conflicting after {RetryPolicy.MaxAttempts} attempts", ex);
                }

                DataStoreLog.TransactionRetried(logger, operation, attempt);
            }
            catch (DbException ex) when (backend.IsUnavailable(ex))
            {
                throw new DataStoreUnavailableException($"datastore {operation} failed: {backend.Describe(ex)}", ex);
            }

            await retry.WaitAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    public static DbCommand Command(DbConnection c, DbTransaction? tx, string sql, params ReadOnlySpan<(string Name, object? Value)> parameters)
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

    public static async Task<int> ExecuteAsync(
        DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        var cmd = Command(c, tx, sql, parameters);
        await using var cmdScope = cmd.ConfigureAwait(false);
        return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
