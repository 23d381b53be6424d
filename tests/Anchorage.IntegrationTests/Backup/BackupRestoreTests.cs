using System.Formats.Tar;
using System.Runtime.Versioning;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Upgrade;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Postgres;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.IntegrationTests.Backup;

/// <summary>
/// Issue 17, backup and restore: <c>anchorage server backup</c> while the server serves and agents
/// sync, <c>restore</c> into an empty data directory, and the restored server serves the same bundle
/// (same sequence) and entries and keeps issuing with the same authority. Keys only with
/// <c>--include-keys</c>; the file is 0600. PostgreSQL: the documented pg_dump recipe, run as written.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BackupRestoreTests
{
    [Fact]
    public async Task Backup_WhileAgentsSync_RestoredServerServesTheSameBundleAndEntriesAndKeepsIssuing()
    {
        using var dir = new TempDir();
        var original = Path.Combine(dir.Path, "original");
        var backup = Path.Combine(dir.Path, "server.backup");
        Directory.CreateDirectory(original);
        ListEntriesResponse entries;
        Protos.Common.V1.Bundle bundle;
        int keyFiles;
        await using (var server = await TestServer.StartAsync(TestServer.Options(original)))
        {
            var (token1, agent1) = await TestAgent.TokenAsync(server);
            var (token2, agent2) = await TestAgent.TokenAsync(server);
            for (var i = 0; i < 20; i++)
            {
                await NodeParts.EntryAsync(server, i % 2 == 0 ? agent1 : agent2, $"/w{i}", $"unix:uid:{1000 + i}");
            }

            await using var a1 = await TestAgent.StartAsync(server, token1);
            await using var a2 = await TestAgent.StartAsync(server, token2);

            // Both agents keep syncing (entry reads, SVID renewals written to the datastore) while the snapshot is taken.
            using var stop = new CancellationTokenSource();
            var syncs = Task.WhenAll(SyncLoopAsync(a1, stop.Token), SyncLoopAsync(a2, stop.Token));
            var result = await TestServer.RunCliAsync("server", "backup", "--config", await ConfigAsync(dir.Path, "original.yaml", original), "--to", backup, "--include-keys");
            await stop.CancelAsync();
            await syncs;

            Assert.True(result.ExitCode == 0, result.Error);
            var report = System.Text.RegularExpressions.Regex.Match(result.Out, @"^backed up trust domain acme\.corp \(schema version \d+, \d+ bytes, (\d+) key files\) to .*server\.backup\n$");
            Assert.True(report.Success, result.Out);
            keyFiles = int.Parse(report.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            entries = await server.Admin.ListEntriesAsync(new ListEntriesRequest());
            bundle = await server.Admin.GetBundleAsync(new GetBundleRequest());
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
        var members = Members(backup);
        Assert.Equal(["manifest.json", "datastore.db", "server-id"], members.Take(3));
        Assert.True(keyFiles > 0);
        Assert.Equal(keyFiles, members.Skip(3).Count(m => m.StartsWith("keys/", StringComparison.Ordinal) && m.EndsWith(".pem", StringComparison.Ordinal)));
        Assert.Equal(3 + keyFiles, members.Count);

        var restored = Path.Combine(dir.Path, "restored");
        var restore = await TestServer.RunCliAsync("server", "restore", "--config", await ConfigAsync(dir.Path, "restored.yaml", restored), "--from", backup);
        Assert.True(restore.ExitCode == 0, restore.Error);
        Assert.StartsWith("restored trust domain acme.corp (schema version ", restore.Out, StringComparison.Ordinal);

        await using var again = await TestServer.StartAsync(TestServer.Options(restored));
        var restoredBundle = await again.Admin.GetBundleAsync(new GetBundleRequest());
        Assert.Equal(bundle.Sequence, restoredBundle.Sequence);
        Assert.Equal(bundle.SpiffeBundleJson, restoredBundle.SpiffeBundleJson);
        var restoredEntries = await again.Admin.ListEntriesAsync(new ListEntriesRequest());
        Assert.Equal(entries.Entries.Select(e => e.ToString()), restoredEntries.Entries.Select(e => e.ToString()));

        // It keeps issuing, with the authority of the bundle it had.
        var minted = await again.Admin.MintX509SvidAsync(new MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/after-restore", Csr = TestServer.NewCsr() });
        var chain = minted.Svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span)).ToList();
        var trusted = SpiffeBundle.Parse(TestServer.Td, bundle.SpiffeBundleJson.Span);
        Assert.Equal("spiffe://acme.corp/after-restore", new X509SvidVerifier().Verify(chain, new X509Bundle(TestServer.Td, trusted.X509Authorities)).Id.ToString());
        Assert.Equal(bundle.Sequence, (await again.Admin.GetBundleAsync(new GetBundleRequest())).Sequence);
    }

    [Fact]
    public async Task Backup_WithoutIncludeKeys_NoKeyInTheArchiveAndRestoreSaysSo()
    {
        using var dir = new TempDir();
        var original = Path.Combine(dir.Path, "original");
        Directory.CreateDirectory(original);
        var backup = Path.Combine(dir.Path, "server.backup");
        await using (await TestServer.StartAsync(TestServer.Options(original)))
        {
            var result = await TestServer.RunCliAsync("server", "backup", "--config", await ConfigAsync(dir.Path, "original.yaml", original), "--to", backup);
            Assert.True(result.ExitCode == 0, result.Error);
            Assert.EndsWith(
                "the backup holds no keys: keep the data directory's keys/ safe on their own, or back up with --include-keys\n",
                result.Out,
                StringComparison.Ordinal);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
        Assert.Equal(["manifest.json", "datastore.db", "server-id"], Members(backup));
        Assert.DoesNotContain("PRIVATE KEY", await File.ReadAllTextAsync(backup), StringComparison.Ordinal);

        var restored = Path.Combine(dir.Path, "restored");
        var restore = await TestServer.RunCliAsync("server", "restore", "--config", await ConfigAsync(dir.Path, "restored.yaml", restored), "--from", backup);
        Assert.Equal(0, restore.ExitCode);
        Assert.EndsWith($"the backup holds no keys: copy them into {restored}/keys (mode 0600) before starting the server\n", restore.Out, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(restored, "keys")));
    }

    [Fact]
    public async Task Backup_DestinationExists_RefusedAndTheFileUntouched()
    {
        using var dir = new TempDir();
        var original = Path.Combine(dir.Path, "original");
        Directory.CreateDirectory(original);
        var backup = Path.Combine(dir.Path, "server.backup");
        await File.WriteAllTextAsync(backup, "precious");
        await using (await TestServer.StartAsync(TestServer.Options(original)))
        {
            var result = await TestServer.RunCliAsync("server", "backup", "--config", await ConfigAsync(dir.Path, "original.yaml", original), "--to", backup);

            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"error: \"{backup}\" already exists: choose a new file name\n", result.Error);
        }

        Assert.Equal("precious", await File.ReadAllTextAsync(backup));
    }

    [Fact]
    public async Task Restore_DataDirectoryNotEmptyOrOtherTrustDomain_RefusedAndNothingWritten()
    {
        using var dir = new TempDir();
        var original = Path.Combine(dir.Path, "original");
        Directory.CreateDirectory(original);
        var backup = Path.Combine(dir.Path, "server.backup");
        await using (await TestServer.StartAsync(TestServer.Options(original)))
        {
            Assert.Equal(0, (await TestServer.RunCliAsync("server", "backup", "--config", await ConfigAsync(dir.Path, "original.yaml", original), "--to", backup)).ExitCode);
        }

        var busy = Path.Combine(dir.Path, "busy");
        Directory.CreateDirectory(busy);
        await File.WriteAllTextAsync(Path.Combine(busy, "note"), "x");
        var notEmpty = await TestServer.RunCliAsync("server", "restore", "--config", await ConfigAsync(dir.Path, "busy.yaml", busy), "--from", backup);
        Assert.Equal(2, notEmpty.ExitCode);
        Assert.Equal($"error: data directory \"{busy}\" is not empty: restore only into an empty (or absent) one\n", notEmpty.Error);
        Assert.Equal(["note"], Directory.EnumerateFileSystemEntries(busy).Select(Path.GetFileName));

        var other = Path.Combine(dir.Path, "other");
        var otherDomain = await TestServer.RunCliAsync("server", "restore", "--config", await ConfigAsync(dir.Path, "other.yaml", other, "payments.acme.corp"), "--from", backup);
        Assert.Equal(2, otherDomain.ExitCode);
        Assert.Equal($"error: \"{backup}\" is a backup of trust domain acme.corp, not payments.acme.corp\n", otherDomain.Error);
        Assert.False(Directory.Exists(other));

        // Positive control: the same backup into an empty directory of the right trust domain.
        var empty = Path.Combine(dir.Path, "empty");
        Assert.Equal(0, (await TestServer.RunCliAsync("server", "restore", "--config", await ConfigAsync(dir.Path, "empty.yaml", empty), "--from", backup)).ExitCode);
        Assert.True(File.Exists(Path.Combine(empty, DataStoreOptions.SqliteFileName)));
    }

    [Fact]
    public async Task Backup_PostgresDatastore_RefusedNamingTheRecipe()
    {
        using var dir = new TempDir();
        var config = Path.Combine(dir.Path, "server.yaml");
        await File.WriteAllTextAsync(config, $"trustDomain: acme.corp\ndataDir: {dir.Path}\ndatastore: {{ postgres: {{ connectionString: \"Host=127.0.0.1;Database=x;Username=x\" }} }}\n");

        var result = await TestServer.RunCliAsync("server", "backup", "--config", config, "--to", Path.Combine(dir.Path, "b"));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: the datastore is PostgreSQL: back it up with pg_dump and copy the data directory's keys (docs/operations.md, \"Backup and restore\")\n", result.Error);
        Assert.False(File.Exists(Path.Combine(dir.Path, "b")));
    }

    [PostgresFact]
    public async Task PgDumpRecipe_RestoredIntoANewDatabase_ServesTheSameBundleAndEntriesAndKeepsIssuing()
    {
        using var dir = new TempDir();
        var original = Path.Combine(dir.Path, "original");
        Directory.CreateDirectory(original);
        await using var source = await TestDatabase.CreateAsync();
        await using var target = await TestDatabase.CreateAsync();
        var dump = Path.Combine(dir.Path, "datastore.dump");
        ListEntriesResponse entries;
        Protos.Common.V1.Bundle bundle;
        await using (var server = await TestServer.StartAsync(TestServer.Options(original, Postgres(source))))
        {
            var (_, agent) = await TestAgent.TokenAsync(server);
            await NodeParts.EntryAsync(server, agent, "/web", "unix:uid:1000");

            // docs/operations.md: pg_dump --format=custom while the server runs.
            var (code, _, error) = await UpgradeFixture.ToolAsync("pg_dump", source.ConnectionString, "--format=custom", "--no-owner", "--file", dump);
            Assert.True(code == 0, $"pg_dump exited {code}: {error}");
            entries = await server.Admin.ListEntriesAsync(new ListEntriesRequest());
            bundle = await server.Admin.GetBundleAsync(new GetBundleRequest());
        }

        // docs/operations.md: pg_restore into an empty database; the keys and server id copied back.
        var (restoreCode, _, restoreError) = await UpgradeFixture.ToolAsync("pg_restore", target.ConnectionString, "--no-owner", "--exit-on-error", "--dbname", target.Name, dump);
        Assert.True(restoreCode == 0, $"pg_restore exited {restoreCode}: {restoreError}");
        var restored = Path.Combine(dir.Path, "restored");
        CopyDirectory(original, restored, name => name is "server-id" or "keys" || name.EndsWith(".pem", StringComparison.Ordinal));

        await using var again = await TestServer.StartAsync(TestServer.Options(restored, Postgres(target)));
        var restoredBundle = await again.Admin.GetBundleAsync(new GetBundleRequest());
        Assert.Equal(bundle.Sequence, restoredBundle.Sequence);
        Assert.Equal(bundle.SpiffeBundleJson, restoredBundle.SpiffeBundleJson);
        Assert.Equal(entries.Entries.Select(e => e.ToString()), (await again.Admin.ListEntriesAsync(new ListEntriesRequest())).Entries.Select(e => e.ToString()));
        var minted = await again.Admin.MintX509SvidAsync(new MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/after-restore", Csr = TestServer.NewCsr() });
        var chain = minted.Svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span)).ToList();
        var trusted = SpiffeBundle.Parse(TestServer.Td, bundle.SpiffeBundleJson.Span);
        Assert.Equal("spiffe://acme.corp/after-restore", new X509SvidVerifier().Verify(chain, new X509Bundle(TestServer.Td, trusted.X509Authorities)).Id.ToString());
    }

    private static DatastoreOptions Postgres(TestDatabase db) => new() { Kind = DataStoreKind.Postgres, PostgresConnectionString = db.ConnectionString };

    private static async Task SyncLoopAsync(TestAgent agent, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
            await Task.Delay(20, CancellationToken.None);
        }
    }

    private static async Task<string> ConfigAsync(string dir, string name, string dataDir, string trustDomain = "acme.corp")
    {
        var path = Path.Combine(dir, name);
        await File.WriteAllTextAsync(path, $"trustDomain: {trustDomain}\ndataDir: {dataDir}\n");
        return path;
    }

    private static List<string> Members(string archive)
    {
        using var reader = new TarReader(File.OpenRead(archive));
        var names = new List<string>();
        while (reader.GetNextEntry() is { } entry)
        {
            names.Add(entry.Name);
        }

        return names;
    }

    private static void CopyDirectory(string from, string to, Func<string, bool> include)
    {
        Directory.CreateDirectory(to, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var entry in Directory.EnumerateFileSystemEntries(from).Where(e => include(Path.GetFileName(e))))
        {
            var target = Path.Combine(to, Path.GetFileName(entry));
            if (Directory.Exists(entry))
            {
                CopyDirectory(entry, target, include);
            }
            else
            {
                File.Copy(entry, target);
                File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
        }
    }
}
