namespace Anchorage.Server.Tests.DataStore;

/// <summary>The contract suite on SQLite, plus what only SQLite has (a file, a journal mode).</summary>
public sealed class SqliteDataStoreTests : DataStoreContractTests<SqliteTestBackend>
{
}
