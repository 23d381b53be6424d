namespace Anchorage.Server.Backup;

/// <summary>What a backup or restore did, for the CLI's one-line report.</summary>
/// <param name="Manifest">The archive's manifest.</param>
/// <param name="KeyFiles">How many key files were written into (backup) or out of (restore) the archive.</param>
/// <param name="DatastoreBytes">The size of the datastore snapshot.</param>
public sealed record BackupResult(BackupManifest Manifest, int KeyFiles, long DatastoreBytes);
