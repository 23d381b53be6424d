namespace Anchorage.Server.Backup;

/// <summary>
/// <c>manifest.json</c>, the first member of a server backup: what the archive holds and what wrote it.
/// </summary>
/// <param name="Format">Always <see cref="ServerBackup.Format"/>.</param>
/// <param name="TrustDomain">The trust domain of the server that was backed up.</param>
/// <param name="ServerId">The id in its <c>server-id</c> file (owner of the keys), or null without one.</param>
/// <param name="SchemaVersion">The datastore schema version of the snapshot.</param>
/// <param name="CreatedAt">When the snapshot was taken (UTC, ISO 8601).</param>
/// <param name="IncludesKeys">Whether the key files are in the archive (<c>--include-keys</c>).</param>
/// <param name="Writer">The version of the anchorage that wrote it (<c>anchorage --version</c>).</param>
public sealed record BackupManifest(
    string Format,
    string TrustDomain,
    string? ServerId,
    int SchemaVersion,
    string CreatedAt,
    bool IncludesKeys,
    string Writer);
