namespace Anchorage.Server.Tests.DataStore;

/// <summary>The contract suite on PostgreSQL (ANCHORAGE_TEST_POSTGRES), each test in a schema of its own.</summary>
[RequiresPostgres]
public sealed class PostgresDataStoreTests : DataStoreContractTests<PostgresTestBackend>
{
}
