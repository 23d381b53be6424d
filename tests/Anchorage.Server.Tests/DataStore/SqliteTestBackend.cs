using Anchorage.Server.DataStore;
using Anchorage.Testing;
using Microsoft.Data.Sqlite;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>A datastore.db in a temp directory.</summary>
public sealed class SqliteTestBackend : IDataStoreTestBackend
{
    private readonly TempDir _dir = new();

    public DataStoreOptions Options => DataStoreOptions.ForDataDirectory(_dir.Path);

    public string DirectoryPath => _dir.Path;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task<object?> ExecuteScalarAsync(string sql)
    {
        await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Options.SqlitePath, Pooling = false }.ToString());
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync();
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}
