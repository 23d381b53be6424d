using System.Text;
using Anchorage.Server.DataStore;

namespace Anchorage.Server.Config;

/// <summary>
/// The <c>datastore:</c> section as written (the SQLite path may be left to its default);
/// <see cref="ToDataStoreOptions"/> resolves it for the datastore factory.
/// <c>datastore:</c> either <c>sqlite: { path: /abs/file.db }</c> (the default, path optional)
/// or <c>postgres: { connectionString: "..." }</c>.
/// </summary>
public sealed record DatastoreOptions
{
    /// <summary>The backend. Default <see cref="DataStoreKind.Sqlite"/>.</summary>
    public DataStoreKind Kind { get; init; } = DataStoreKind.Sqlite;

    /// <summary>SQLite: the database file; null means <c>&lt;dataDir&gt;/datastore.db</c>.</summary>
    public string? SqlitePath { get; init; }

    /// <summary>PostgreSQL: the Npgsql connection string. It may hold a password: never log it.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>The SQLite file for a server whose data directory is <paramref name="dataDir"/>.</summary>
    public string SqlitePathIn(string dataDir) => SqlitePath ?? Path.Join(dataDir, DataStoreOptions.SqliteFileName);

    /// <summary>What the datastore factory opens, with the SQLite default resolved against <paramref name="dataDir"/>.</summary>
    public DataStoreOptions ToDataStoreOptions(string dataDir) => Kind == DataStoreKind.Postgres
        ? DataStoreOptions.ForPostgres(PostgresConnectionString!)
        : new DataStoreOptions(DataStoreKind.Sqlite, SqlitePath: SqlitePathIn(dataDir));

    // The connection string may carry a password; records print every property, so leave it out.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Kind = ").Append(Kind)
            .Append(", SqlitePath = ").Append(SqlitePath)
            .Append(", PostgresConnectionString = ").Append(PostgresConnectionString is null ? string.Empty : "(redacted)");
        return true;
    }
}
