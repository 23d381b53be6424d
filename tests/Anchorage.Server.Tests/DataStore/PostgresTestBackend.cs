using Anchorage.Server.DataStore;
using Anchorage.Testing.Postgres;
using Npgsql;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>A schema of its own (created, then dropped with everything in it) in the database of ANCHORAGE_TEST_POSTGRES.</summary>
public sealed class PostgresTestBackend : IDataStoreTestBackend
{
    private readonly string _adminConnectionString = PostgresTestEnvironment.Require();
    private readonly string _schema = "anchorage_test_" + Guid.NewGuid().ToString("N");

    public DataStoreOptions Options =>
        DataStoreOptions.ForPostgres(new NpgsqlConnectionStringBuilder(_adminConnectionString) { SearchPath = _schema }.ToString());

    public async Task InitializeAsync() => await ExecuteOnAdminAsync($"CREATE SCHEMA {_schema}");

    public async Task<object?> ExecuteScalarAsync(string sql)
    {
        await using var c = new NpgsqlConnection(Options.PostgresConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return await cmd.ExecuteScalarAsync();
    }

    public async ValueTask DisposeAsync() => await ExecuteOnAdminAsync($"DROP SCHEMA IF EXISTS {_schema} CASCADE");

    private async Task ExecuteOnAdminAsync(string sql)
    {
        await using var c = new NpgsqlConnection(_adminConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
