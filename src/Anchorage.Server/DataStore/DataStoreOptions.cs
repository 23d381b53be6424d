namespace Anchorage.Server.DataStore;

/// <summary>Where the datastore lives.</summary>
/// <param name="Kind">The backend.</param>
/// <param name="SqlitePath">SQLite: the database file, normally <c>&lt;dataDir&gt;/datastore.db</c> (see <see cref="ForDataDirectory"/>).</param>
/// <param name="PostgresConnectionString">PostgreSQL: an Npgsql connection string. It may hold a password, so it is never logged or put in a message.</param>
public sealed record DataStoreOptions(DataStoreKind Kind, string? SqlitePath = null, string? PostgresConnectionString = null)
{
    /// <summary>The SQLite file name inside the server's data directory.</summary>
    public const string SqliteFileName = "datastore.db";

    /// <summary>SQLite options for the file <c>datastore.db</c> in <paramref name="dataDirectory"/>.</summary>
    public static DataStoreOptions ForDataDirectory(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        return new DataStoreOptions(DataStoreKind.Sqlite, SqlitePath: Path.Combine(dataDirectory, SqliteFileName));
    }

    /// <summary>PostgreSQL options for <paramref name="connectionString"/>.</summary>
    public static DataStoreOptions ForPostgres(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        return new DataStoreOptions(DataStoreKind.Postgres, PostgresConnectionString: connectionString);
    }

    /// <summary>Leaves the connection string out: it may hold a password.</summary>
    public override string ToString() =>
        Kind == DataStoreKind.Sqlite ? $"DataStoreOptions {{ Kind = Sqlite, SqlitePath = {SqlitePath} }}" : "DataStoreOptions { Kind = Postgres }";
}
