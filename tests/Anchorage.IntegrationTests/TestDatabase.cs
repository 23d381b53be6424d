using Anchorage.Testing.Postgres;
using Npgsql;

namespace Anchorage.IntegrationTests;

/// <summary>A fresh PostgreSQL database (anchorage_it_&lt;random&gt;) on the server of ANCHORAGE_TEST_POSTGRES, dropped on dispose.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _admin;

    private TestDatabase(string admin, string name)
    {
        _admin = admin;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = false }.ToString();
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync()
    {
        var admin = PostgresTestEnvironment.Require();
        var db = new TestDatabase(admin, "anchorage_it_" + Guid.NewGuid().ToString("N"));
        await db.ExecuteOnAdminAsync($"CREATE DATABASE {db.Name}");
        return db;
    }

    public async ValueTask DisposeAsync() => await ExecuteOnAdminAsync($"DROP DATABASE IF EXISTS {Name} WITH (FORCE)");

    private async Task ExecuteOnAdminAsync(string sql)
    {
        await using var c = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_admin) { Pooling = false, Timeout = 15, CommandTimeout = 30 }.ToString());
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }
}
