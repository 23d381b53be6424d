namespace Anchorage.Server.Config;

/// <summary>Which datastore backend the server uses.</summary>
public enum DatastoreKind
{
    /// <summary>An embedded SQLite file (the default; one server).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database, which several servers may share.</summary>
    Postgres,
}
