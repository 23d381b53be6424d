using System.Formats.Tar;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Anchorage.Foundation.Files;
using Anchorage.Server.Backup.Internal;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.DataStore.Migrations;

namespace Anchorage.Server.Backup;

/// <summary>
/// <c>anchorage server backup</c> and <c>restore</c> for the SQLite datastore: a tar archive with
/// <c>manifest.json</c>, <c>datastore.db</c> (an online snapshot, taken while the server serves),
/// <c>server-id</c>, and the authorities' key files under <c>keys/</c> only when asked for. The
/// archive is created mode 0600 and never over an existing file. A restore goes only into an empty
/// data directory, for the same trust domain, from a schema version this build can open.
/// PostgreSQL datastores are backed up with pg_dump (docs/operations.md): both verbs say so.
/// </summary>
public static partial class ServerBackup
{
    /// <summary>The manifest's <c>format</c>.</summary>
    public const string Format = "anchorage-server-backup/1";

    private const string ManifestName = "manifest.json";
    private const string DatastoreName = "datastore.db";
    private const string KeysDirectory = "keys";
    private const string KeyExtension = ".pem";
    private const string NeedsUnix = "server backup and restore need Unix file modes";
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Writes a backup of the server configured by <paramref name="options"/> to the new file <paramref name="destination"/>.</summary>
    /// <exception cref="BackupException">PostgreSQL, no datastore, the destination exists, or the snapshot failed.</exception>
    public static async Task<BackupResult> CreateAsync(ServerOptions options, string destination, bool includeKeys, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        ArgumentNullException.ThrowIfNull(time);
        RefusePostgres(options, "back it up with pg_dump");

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(NeedsUnix);
        }

        var temp = Directory.CreateTempSubdirectory("anchorage-backup-");
        try
        {
            var snapshot = Path.Join(temp.FullName, DatastoreName);
            var schemaVersion = await SqliteSnapshot.CopyAsync(options.Datastore.SqlitePathIn(options.DataDir), snapshot, cancellationToken).ConfigureAwait(false);
            var serverIdPath = Path.Join(options.DataDir, ServerIdFile.FileName);
            var serverId = File.Exists(serverIdPath) ? (await File.ReadAllTextAsync(serverIdPath, cancellationToken).ConfigureAwait(false)).Trim() : null;

            // Keys after the snapshot: a key the snapshot's authorities name was written before its row.
            var keys = includeKeys ? KeyFiles(options.DataDir) : [];
            var manifest = new BackupManifest(
                Format,
                options.TrustDomain.Name,
                serverId,
                schemaVersion,
                time.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
                includeKeys,
                Writer());

            // Through the one safe-write helper: a temporary name renamed into place only when the
            // archive is complete, never over an existing name (a file, or a symlink someone placed).
            await WritePrivateFileAsync(destination, async (output, ct) =>
            {
                var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
                await using (tar.ConfigureAwait(false))
                {
                    await WriteAsync(tar, ManifestName, JsonSerializer.SerializeToUtf8Bytes(manifest, BackupJson.Default.BackupManifest), ct).ConfigureAwait(false);
                    await WriteFileAsync(tar, DatastoreName, snapshot, ct).ConfigureAwait(false);
                    if (serverId is not null)
                    {
                        await WriteFileAsync(tar, ServerIdFile.FileName, serverIdPath, ct).ConfigureAwait(false);
                    }

                    foreach (var key in keys)
                    {
                        await WriteFileAsync(tar, KeysDirectory + "/" + Path.GetFileName(key), key, ct).ConfigureAwait(false);
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
            return new BackupResult(manifest, keys.Count, new FileInfo(snapshot).Length);
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>Restores the backup <paramref name="source"/> into the empty data directory of <paramref name="options"/>.</summary>
    /// <exception cref="BackupException">PostgreSQL, a non-empty data directory, another trust domain, a newer schema, or a malformed archive.</exception>
    public static async Task<BackupResult> RestoreAsync(ServerOptions options, string source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(source);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(NeedsUnix);
        }

        RefusePostgres(options, "restore it with psql");
        var dataDir = options.DataDir;
        if (Directory.Exists(dataDir) && Directory.EnumerateFileSystemEntries(dataDir).Any())
        {
            throw new BackupException($"data directory \"{dataDir}\" is not empty: restore only into an empty (or absent) one");
        }

        var datastorePath = options.Datastore.SqlitePathIn(dataDir);
        if (File.Exists(datastorePath))
        {
            throw new BackupException($"a datastore exists at \"{datastorePath}\": restore only where there is none");
        }

        var input = File.OpenRead(source);
        await using var inputScope = input.ConfigureAwait(false);
        var reader = new TarReader(input);
        await using var readerScope = reader.ConfigureAwait(false);
        var manifest = await ReadManifestAsync(reader, source, cancellationToken).ConfigureAwait(false);
        Check(manifest, options, source);

        var created = new List<string>();
        var createdDataDir = !Directory.Exists(dataDir);
        try
        {
            Directory.CreateDirectory(dataDir, PrivateDirectory);
            var keyFiles = 0;
            long datastoreBytes = -1;
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var target = TargetOf(entry, options, datastorePath, source);
                if (Path.GetDirectoryName(target) is { } parent && !Directory.Exists(parent))
                {
                    Directory.CreateDirectory(parent, PrivateDirectory);
                }

                await WritePrivateFileAsync(target, async (file, ct) =>
                {
                    if (entry.DataStream is { } data)
                    {
                        await data.CopyToAsync(file, ct).ConfigureAwait(false);
                    }
                }, cancellationToken).ConfigureAwait(false);
                created.Add(target);

                if (target == datastorePath)
                {
                    datastoreBytes = new FileInfo(target).Length;
                }
                else if (entry.Name.StartsWith(KeysDirectory + "/", StringComparison.Ordinal))
                {
                    keyFiles++;
                }
            }

            if (datastoreBytes < 0)
            {
                throw new BackupException($"\"{source}\" holds no {DatastoreName}");
            }

            var version = await SqliteSnapshot.SchemaVersionAsync(datastorePath, cancellationToken).ConfigureAwait(false);
            if (version != manifest.SchemaVersion)
            {
                throw new BackupException(string.Create(CultureInfo.InvariantCulture, $"\"{source}\": {DatastoreName} has schema version {version}, the manifest says {manifest.SchemaVersion}"));
            }

            return new BackupResult(manifest, keyFiles, datastoreBytes);
        }
        catch
        {
            // The directory was empty: leave it as it was.
            foreach (var path in created)
            {
                File.Delete(path);
            }

            var keys = Path.Join(dataDir, KeysDirectory);
            if (Directory.Exists(keys) && !Directory.EnumerateFileSystemEntries(keys).Any())
            {
                Directory.Delete(keys);
            }

            if (createdDataDir && Directory.Exists(dataDir) && !Directory.EnumerateFileSystemEntries(dataDir).Any())
            {
                Directory.Delete(dataDir);
            }

            throw;
        }
    }

    /// <summary>The version of this build, e.g. <c>0.1.0+COMMIT</c>.</summary>
    internal static string Writer() =>
        typeof(ServerBackup).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    private static void RefusePostgres(ServerOptions options, string instead)
    {
        if (options.Datastore.Kind == DataStoreKind.Postgres)
        {
            throw new BackupException($"the datastore is PostgreSQL: {instead} and copy the data directory's keys (docs/operations.md, \"Backup and restore\")");
        }
    }

    private static List<string> KeyFiles(string dataDir)
    {
        var directory = Path.Join(dataDir, KeysDirectory);
        return Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory, "*" + KeyExtension).Where(f => KeyName().IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal)]
            : [];
    }

    private static async Task<BackupManifest> ReadManifestAsync(TarReader reader, string source, CancellationToken cancellationToken)
    {
        var first = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        if (first is not { Name: ManifestName, EntryType: TarEntryType.RegularFile or TarEntryType.V7RegularFile, DataStream: { } data } || first.Length > 64 * 1024)
        {
            throw new BackupException($"\"{source}\" is not an anchorage server backup (no {ManifestName} first)");
        }

        try
        {
            return await JsonSerializer.DeserializeAsync(data, BackupJson.Default.BackupManifest, cancellationToken).ConfigureAwait(false)
                ?? throw new BackupException($"\"{source}\": {ManifestName} is null");
        }
        catch (JsonException ex)
        {
            throw new BackupException($"\"{source}\": {ManifestName} is not valid: {ex.Message}", ex);
        }
    }

    private static void Check(BackupManifest manifest, ServerOptions options, string source)
    {
        if (manifest.Format != Format)
        {
            throw new BackupException($"\"{source}\" has format \"{manifest.Format}\", not {Format}");
        }

        if (manifest.TrustDomain != options.TrustDomain.Name)
        {
            throw new BackupException($"\"{source}\" is a backup of trust domain {manifest.TrustDomain}, not {options.TrustDomain.Name}");
        }

        if (manifest.SchemaVersion > SchemaMigrations.Latest)
        {
            throw new BackupException(string.Create(
                CultureInfo.InvariantCulture,
                $"\"{source}\" holds datastore schema version {manifest.SchemaVersion}, newer than this anchorage supports ({SchemaMigrations.Latest}): restore it with {manifest.Writer} or newer"));
        }

        if (options.ServerId is { } configured && manifest.ServerId is { } backedUp && configured != backedUp)
        {
            throw new BackupException($"server.yaml sets serverId {configured} but the backup is of server {backedUp}: the restored server would not own the backed-up authorities' keys");
        }
    }

    // Only the members a backup writes, as regular files: nothing else is ever extracted.
    private static string TargetOf(TarEntry entry, ServerOptions options, string datastorePath, string source)
    {
        if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
        {
            throw new BackupException($"\"{source}\": member \"{entry.Name}\" is not a regular file");
        }

        if (entry.Name == DatastoreName)
        {
            return datastorePath;
        }

        if (entry.Name == ServerIdFile.FileName)
        {
            return Path.Join(options.DataDir, ServerIdFile.FileName);
        }

        if (entry.Name.StartsWith(KeysDirectory + "/", StringComparison.Ordinal) && KeyName().IsMatch(entry.Name[(KeysDirectory.Length + 1)..]))
        {
            return Path.Join(options.DataDir, KeysDirectory, entry.Name[(KeysDirectory.Length + 1)..]);
        }

        throw new BackupException($"\"{source}\": unexpected member \"{entry.Name}\"");
    }

    private static async Task WriteAsync(TarWriter tar, string name, byte[] content, CancellationToken cancellationToken)
    {
        using var data = new MemoryStream(content, writable: false);
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = PrivateFile, DataStream = data };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteFileAsync(TarWriter tar, string name, string path, CancellationToken cancellationToken)
    {
        var data = File.OpenRead(path);
        await using (data.ConfigureAwait(false))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = PrivateFile, DataStream = data };
            await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A new file, mode 0600 from its creation, written through <see cref="SafeFile"/> and never over
    /// an existing name (not over a file, not through a symlink).
    /// </summary>
    private static async Task WritePrivateFileAsync(string path, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        try
        {
            await SafeFile.WriteAsync(path, write, SafeFile.PrivateMode, replace: false, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null)
        {
            throw new BackupException($"\"{path}\" already exists: choose a new file name", ex);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\\.pem$")]
    private static partial Regex KeyName();
}
