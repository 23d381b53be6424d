using Microsoft.Extensions.Logging;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>Datastore log events, ids 3100-3199. Never logs connection strings, tokens or keys.</summary>
internal static partial class DataStoreLog
{
    [LoggerMessage(EventId = 3100, EventName = "DataStoreOpened", Level = LogLevel.Information,
        Message = "datastore opened: {Backend} {Location}, schema version {SchemaVersion}")]
    public static partial void Opened(ILogger logger, string backend, string location, int schemaVersion);

    [LoggerMessage(EventId = 3101, EventName = "DataStoreMigrationApplied", Level = LogLevel.Information,
        Message = "datastore migration {Version} applied: {Description}")]
    public static partial void MigrationApplied(ILogger logger, int version, string description);

    [LoggerMessage(EventId = 3102, EventName = "DataStoreOpenFailed", Level = LogLevel.Warning,
        Message = "datastore unavailable (attempt {Attempt}), retrying in {Delay}: {Reason}")]
    public static partial void OpenFailed(ILogger logger, int attempt, TimeSpan delay, string reason);

    [LoggerMessage(EventId = 3103, EventName = "DataStoreTransactionRetried", Level = LogLevel.Debug,
        Message = "datastore {Operation}: transaction conflict (attempt {Attempt}), retrying")]
    public static partial void TransactionRetried(ILogger logger, string operation, int attempt);

    [LoggerMessage(EventId = 3104, EventName = "DataStoreJournalMode", Level = LogLevel.Warning,
        Message = "sqlite journal mode is {Mode}, not wal: readers and the writer will block each other")]
    public static partial void JournalModeNotWal(ILogger logger, string mode);
}
