using Anchorage.Server.DataStore;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>One fresh, private database for one test (a temp directory, a PostgreSQL schema), removed on dispose.</summary>
public interface IDataStoreTestBackend : IAsyncDisposable
{
    /// <summary>Creates the private database's home; called once before the test.</summary>
    Task InitializeAsync();

    /// <summary>The options that open this test's database; every call names the same database.</summary>
    DataStoreOptions Options { get; }

    /// <summary>Runs SQL directly against the database (to corrupt rows or fake a newer schema).</summary>
    Task<object?> ExecuteScalarAsync(string sql);
}
