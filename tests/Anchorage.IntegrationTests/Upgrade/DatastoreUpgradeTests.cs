using System.Data.Common;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.DataStore.Migrations;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Postgres;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Anchorage.IntegrationTests.Upgrade;

/// <summary>
/// Issue 17, upgrades: a datastore written by every earlier schema version's own server opens under
/// this build with every row of every table intact, and the server keeps signing with the same
/// active authorities; a datastore from a newer schema is refused and left byte for byte as it was.
/// The fixtures are found on disk, so one added for a new schema version is covered without a change here.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DatastoreUpgradeTests
{
    public static TheoryData<int> Versions() => UpgradeFixture.Versions();

    [Fact]
    public void Fixtures_EveryEarlierSchemaVersionHasOne()
    {
        // The current version's own fixture is welcome but not required: it is not "earlier" yet.
        Assert.Equal(Enumerable.Range(1, SchemaMigrations.Latest - 1), UpgradeFixture.VersionList().Where(v => v < SchemaMigrations.Latest));
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Open_SqliteWrittenByThatSchemaVersion_EveryRowKeptAndTheCaSignsWithTheSameAuthorities(int version)
    {
        using var dir = new TempDir();
        UpgradeFixture.CopyServerFiles(version, "sqlite", dir.Path);
        var path = Path.Combine(dir.Path, DataStoreOptions.SqliteFileName);
        await UpgradeFixture.LoadSqliteAsync(version, path);
        var before = await WithSqliteAsync(path, UpgradeFixture.RowsAsync);
        AssertFixtureHolds(version, before);

        await using (await DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), TimeProvider.System, null, CancellationToken.None))
        {
        }

        await OnSqliteAsync(path, c => AssertRowsKeptAsync(c, before));
        await AssertCaKeepsSigningAsync(TestServer.Options(dir.Path), before);
    }

    [PostgresTheory]
    [MemberData(nameof(Versions))]
    public async Task Open_PostgresWrittenByThatSchemaVersion_EveryRowKeptAndTheCaSignsWithTheSameAuthorities(int version)
    {
        using var dir = new TempDir();
        await using var db = await TestDatabase.CreateAsync();
        UpgradeFixture.CopyServerFiles(version, "postgres", dir.Path);
        await UpgradeFixture.LoadPostgresAsync(version, db.ConnectionString);
        var before = await WithPostgresAsync(db.ConnectionString, UpgradeFixture.RowsAsync);
        AssertFixtureHolds(version, before);

        await using (await DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Postgres, PostgresConnectionString: db.ConnectionString), TimeProvider.System, null, CancellationToken.None))
        {
        }

        await OnPostgresAsync(db.ConnectionString, c => AssertRowsKeptAsync(c, before));
        var datastore = new DatastoreOptions { Kind = DataStoreKind.Postgres, PostgresConnectionString = db.ConnectionString };
        await AssertCaKeepsSigningAsync(TestServer.Options(dir.Path, datastore), before);
    }

    [Fact]
    public async Task Open_SqliteFromANewerSchema_RefusedAndTheFileUnchanged()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, DataStoreOptions.SqliteFileName);
        var newest = UpgradeFixture.VersionList()[^1];
        await UpgradeFixture.LoadSqliteAsync(newest, path);
        await OnSqliteAsync(path, FromTheFutureAsync);
        var checksum = Checksum(dir.Path);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), TimeProvider.System, null, CancellationToken.None));

        Assert.Equal(
            $"datastore schema version {SchemaMigrations.Latest + 1} is newer than this server supports ({SchemaMigrations.Latest}); run a newer server or restore a backup",
            e.Message);
        Assert.Equal(checksum, Checksum(dir.Path));
    }

    [Fact]
    public async Task Open_SqliteAtTheCurrentSchema_OpensAndTheFileUnchanged()
    {
        // Positive control for the refusal above: the same file without the future version opens,
        // and opening a database that needs no migration writes nothing either.
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, DataStoreOptions.SqliteFileName);
        await (await DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), TimeProvider.System, null, CancellationToken.None)).DisposeAsync();
        var checksum = Checksum(dir.Path);

        await (await DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), TimeProvider.System, null, CancellationToken.None)).DisposeAsync();

        Assert.Equal(checksum, Checksum(dir.Path));
    }

    [PostgresFact]
    public async Task Open_PostgresFromANewerSchema_RefusedAndTheDatabaseUnchanged()
    {
        await using var db = await TestDatabase.CreateAsync();
        var newest = UpgradeFixture.VersionList()[^1];
        await UpgradeFixture.LoadPostgresAsync(newest, db.ConnectionString);
        await OnPostgresAsync(db.ConnectionString, FromTheFutureAsync);
        var dump = await DumpAsync(db.ConnectionString);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Postgres, PostgresConnectionString: db.ConnectionString), TimeProvider.System, null, CancellationToken.None));

        Assert.Equal(
            $"datastore schema version {SchemaMigrations.Latest + 1} is newer than this server supports ({SchemaMigrations.Latest}); run a newer server or restore a backup",
            e.Message);
        Assert.Equal(dump, await DumpAsync(db.ConnectionString));
    }

    // What generate.sh put in every fixture: the test proves nothing if a fixture is empty.
    private static void AssertFixtureHolds(int version, Dictionary<string, TableRows> rows)
    {
        Assert.Equal(2, rows["entries"].Rows.Count);
        Assert.Single(rows["entry_tombstones"].Rows);
        Assert.Single(rows["join_tokens"].Rows);
        Assert.Equal(4, rows["authorities"].Rows.Count);   // x509 and jwt, active and prepared
        Assert.Equal(2, rows["bundles"].Rows.Count);       // own and payments.acme.corp
        Assert.Equal(version, rows["schema_version"].Rows.Count);
        if (version >= 3)
        {
            Assert.Single(rows["federation_relationships"].Rows);
        }

        if (version >= 4)
        {
            Assert.Single(rows["policy"].Rows);
        }
    }

    private static async Task AssertRowsKeptAsync(DbConnection c, Dictionary<string, TableRows> before)
    {
        foreach (var (table, old) in before)
        {
            var now = await UpgradeFixture.ReadTableAsync(c, table, old.Columns);
            if (table == "schema_version")
            {
                Assert.Empty(old.Rows.Except(now.Rows));
                Assert.Equal(SchemaMigrations.Latest, now.Rows.Count);
            }
            else
            {
                Assert.True(old.Rows.SequenceEqual(now.Rows), $"table {table} changed:\nbefore:\n{string.Join("\n", old.Rows)}\nafter:\n{string.Join("\n", now.Rows)}");
            }
        }
    }

    /// <summary>The server on the upgraded datastore signs X.509 and JWT SVIDs with the fixture's active authorities, not new ones.</summary>
    private static async Task AssertCaKeepsSigningAsync(ServerOptions options, Dictionary<string, TableRows> before)
    {
        var activeX509 = Authority(before, "x509", "active");
        var preparedX509 = Authority(before, "x509", "prepared");
        var activeJwtId = Field(Single(before, "jwt", "active"), "id");

        await using var server = await TestServer.StartAsync(options);
        var minted = await server.Admin.MintX509SvidAsync(new MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/upgrade-check", Csr = TestServer.NewCsr() });
        var chain = minted.Svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span)).ToList();
        var verified = new X509SvidVerifier().Verify(chain, new X509Bundle(TestServer.Td, [activeX509]));
        Assert.Equal("spiffe://acme.corp/upgrade-check", verified.Id.ToString());

        // Negative control on the same SVID: the prepared authority did not sign it.
        Assert.ThrowsAny<SpiffeException>(() => new X509SvidVerifier().Verify(chain, new X509Bundle(TestServer.Td, [preparedX509])));

        // Both authorities are still in the served bundle.
        var bundle = await server.BundleAsync();
        Assert.Contains(bundle.X509Authorities, c => c.RawData.AsSpan().SequenceEqual(activeX509.RawData));
        Assert.Contains(bundle.X509Authorities, c => c.RawData.AsSpan().SequenceEqual(preparedX509.RawData));

        var jwt = await server.Admin.MintJwtSvidAsync(new MintJwtSvidRequest { SpiffeId = "spiffe://acme.corp/upgrade-check", Audience = { "upgrade" } });
        var header = JsonDocument.Parse(Base64Url(jwt.Token.Split('.')[0]));
        Assert.Equal(activeJwtId, header.RootElement.GetProperty("kid").GetString());
    }

    private static X509Certificate2 Authority(Dictionary<string, TableRows> rows, string kind, string state)
    {
        var hex = Field(Single(rows, kind, state), "certificate_der");
        return X509CertificateLoader.LoadCertificate(Convert.FromHexString(hex[2..^1]));
    }

    private static string Single(Dictionary<string, TableRows> rows, string kind, string state) =>
        Assert.Single(rows["authorities"].Rows, r => Field(r, "kind") == kind && Field(r, "state") == state);

    private static string Field(string row, string column)
    {
        var start = row.IndexOf(column + "=", StringComparison.Ordinal);
        Assert.True(start == 0 || (start > 0 && row[start - 2] == '|'), $"no column {column} in {row}");
        start += column.Length + 1;
        return row[start..row.IndexOf(" | ", start, StringComparison.Ordinal)];
    }

    private static byte[] Base64Url(string text) =>
        Convert.FromBase64String(text.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (text.Length % 4)) % 4));

    private static async Task FromTheFutureAsync(DbConnection c)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"INSERT INTO schema_version (version, description, applied_at) VALUES ({SchemaMigrations.Latest + 1}, 'written by a newer server', 0)";
        await cmd.ExecuteNonQueryAsync();
    }

    // Every file in the directory (the database, and a -wal or -shm if one were left), by name and sha256.
    private static string Checksum(string dir) => string.Join(
        "\n",
        Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Select(f => Path.GetFileName(f) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));

    private static async Task<string> DumpAsync(string connectionString)
    {
        var (code, dump, error) = await UpgradeFixture.ToolAsync("pg_dump", connectionString, "--no-owner", "--no-privileges");
        Assert.True(code == 0, $"pg_dump exited {code}: {error}");

        // pg_dump (15.14+) brackets the dump with \restrict KEY / \unrestrict KEY, a random key per run.
        var content = string.Join("\n", dump.Split('\n').Where(l => !l.StartsWith("\\restrict ", StringComparison.Ordinal) && !l.StartsWith("\\unrestrict ", StringComparison.Ordinal)));
        return Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));
    }

    private static async Task<T> WithSqliteAsync<T>(string path, Func<DbConnection, Task<T>> body)
    {
        await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadWrite }.ToString());
        await c.OpenAsync();
        return await body(c);
    }

    private static Task<int> OnSqliteAsync(string path, Func<DbConnection, Task> body) => WithSqliteAsync(path, async c =>
    {
        await body(c);
        return 0;
    });

    private static async Task<T> WithPostgresAsync<T>(string connectionString, Func<DbConnection, Task<T>> body)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        return await body(c);
    }

    private static Task<int> OnPostgresAsync(string connectionString, Func<DbConnection, Task> body) => WithPostgresAsync(connectionString, async c =>
    {
        await body(c);
        return 0;
    });
}
