namespace Anchorage.Server.DataStore;

/// <summary>Which database backs the datastore.</summary>
public enum DataStoreKind
{
    /// <summary>An embedded SQLite file in the data directory (the default; one server).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database, which several servers of one trust domain may share.</summary>
    Postgres,
}
