using Anchorage.Foundation.Retry;
using Anchorage.Server.DataStore.Internal;
using Anchorage.Server.DataStore.Postgres;
using Anchorage.Server.DataStore.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.DataStore;

/// <summary>Opens the configured datastore and brings its schema up to date.</summary>
public static class DataStoreFactory
{
    /// <summary>The first delay of <see cref="OpenWithRetryAsync"/>; it doubles up to the maximum.</summary>
    public static readonly TimeSpan InitialRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Opens the datastore: SQLite creates the file if needed (its directory must exist); both apply
    /// the missing schema migrations, each in its own transaction (several servers starting at once
    /// on one PostgreSQL database take turns).
    /// </summary>
    /// <param name="options">Which backend and where.</param>
    /// <param name="timeProvider">The clock for timestamps the store assigns (creation and update times).</param>
    /// <param name="logger">Receives open, migration and retry events; never connection strings.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <exception cref="ArgumentException">The options lack the path or connection string their kind needs.</exception>
    /// <exception cref="DataStoreUnavailableException">The database cannot be reached or opened now; the message names it without credentials.</exception>
    /// <exception cref="InvalidOperationException">The database's schema is newer than this server knows.</exception>
    /// <exception cref="InvalidDataException">The SQLite file is not a database.</exception>
    public static async Task<IDataStore> OpenAsync(
        DataStoreOptions options, TimeProvider timeProvider, ILogger? logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        logger ??= NullLogger.Instance;
        switch (options.Kind)
        {
            case DataStoreKind.Sqlite:
                if (string.IsNullOrEmpty(options.SqlitePath))
                {
                    throw new ArgumentException("sqlite datastore needs a file path", nameof(options));
                }

                return await SqliteDataStore.OpenAsync(options.SqlitePath, timeProvider, logger, cancellationToken).ConfigureAwait(false);
            case DataStoreKind.Postgres:
                if (string.IsNullOrEmpty(options.PostgresConnectionString))
                {
                    throw new ArgumentException("postgres datastore needs a connection string", nameof(options));
                }

                return await PostgresDataStore.OpenAsync(options.PostgresConnectionString, timeProvider, logger, cancellationToken)
                    .ConfigureAwait(false);
            default:
                throw new ArgumentException($"unknown datastore kind {options.Kind}", nameof(options));
        }
    }

    /// <summary>
    /// <see cref="OpenAsync"/>, retried while the database is unavailable: waits
    /// <see cref="InitialRetryDelay"/>, doubling up to <paramref name="maxDelay"/> (equal jitter: half to all of each step), on
    /// <paramref name="timeProvider"/>, logging each failed attempt, until it opens or
    /// <paramref name="cancellationToken"/> is cancelled. Other failures (a newer schema, bad options) are not retried.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDelay"/> is not positive.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the database opened.</exception>
    public static async Task<IDataStore> OpenWithRetryAsync(
        DataStoreOptions options, TimeProvider timeProvider, ILogger? logger, TimeSpan maxDelay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxDelay, TimeSpan.Zero);
        logger ??= NullLogger.Instance;
        // The one backoff, with equal jitter, so servers sharing a database that comes back do not all retry at once.
        var backoff = new Backoff(InitialRetryDelay < maxDelay ? InitialRetryDelay : maxDelay, maxDelay, timeProvider);
        for (var attempt = 1; ; attempt++)
        {
            TimeSpan delay;
            try
            {
                return await OpenAsync(options, timeProvider, logger, cancellationToken).ConfigureAwait(false);
            }
            catch (DataStoreUnavailableException ex)
            {
                delay = backoff.Next();
                DataStoreLog.OpenFailed(logger, attempt, delay, ex.Message);
            }

            await backoff.DelayAsync(delay, cancellationToken).ConfigureAwait(false);
        }
    }
}
