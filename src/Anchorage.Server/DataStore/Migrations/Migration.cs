namespace Anchorage.Server.DataStore.Migrations;

/// <summary>One schema step, written once per dialect. Applied in its own transaction, never edited once released.</summary>
/// <param name="Version">1, 2, 3, ...: the schema version after this step.</param>
/// <param name="Description">What the step does, for the log and the <c>schema_version</c> table.</param>
/// <param name="Sqlite">The step in SQLite's dialect.</param>
/// <param name="Postgres">The step in PostgreSQL's dialect.</param>
internal sealed record Migration(int Version, string Description, string Sqlite, string Postgres);
