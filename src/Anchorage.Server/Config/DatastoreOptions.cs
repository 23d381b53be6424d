using System.Text;

namespace Anchorage.Server.Config;

/// <summary>
/// <c>datastore:</c> either <c>sqlite: { path: /abs/file.db }</c> (the default, path optional)
/// or <c>postgres: { connectionString: "..." }</c>.
/// </summary>
public sealed record DatastoreOptions
{
    /// <summary>The backend. Default <see cref="DatastoreKind.Sqlite"/>.</summary>
    public DatastoreKind Kind { get; init; } = DatastoreKind.Sqlite;

    /// <summary>SQLite: the database file; null means <c>&lt;dataDir&gt;/datastore.db</c>.</summary>
    public string? SqlitePath { get; init; }

    /// <summary>PostgreSQL: the Npgsql connection string. It may hold a password: never log it.</summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>The SQLite file for a server whose data directory is <paramref name="dataDir"/>.</summary>
    public string SqlitePathIn(string dataDir) => SqlitePath ?? Path.Join(dataDir, "datastore.db");

    // The connection string may carry a password; records print every property, so leave it out.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Kind = ").Append(Kind)
            .Append(", SqlitePath = ").Append(SqlitePath)
            .Append(", PostgresConnectionString = ").Append(PostgresConnectionString is null ? string.Empty : "(redacted)");
        return true;
    }
}
