using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Anchorage.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Anchorage.IntegrationTests.Upgrade;

/// <summary>
/// The checked-in datastores written by each earlier schema version's own server
/// (Upgrade/fixtures/vN/{sqlite,postgres}, made by fixtures/generate.sh), loaded into a real
/// SQLite file or PostgreSQL database, and a row-by-row picture of a database to compare.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class UpgradeFixture
{
    public static string Root => Path.Combine(Processes.RepoRoot(), "tests", "Anchorage.IntegrationTests", "Upgrade", "fixtures");

    /// <summary>Every fixture version present (v1, v2, ...): a new schema's fixture is picked up without a code change.</summary>
    public static List<int> VersionList() =>
        [.. Directory.EnumerateDirectories(Root, "v*").Select(d => int.Parse(Path.GetFileName(d)[1..], CultureInfo.InvariantCulture)).Order()];

    /// <summary><see cref="VersionList"/> as theory data.</summary>
    public static TheoryData<int> Versions()
    {
        var data = new TheoryData<int>();
        foreach (var version in VersionList())
        {
            data.Add(version);
        }

        return data;
    }

    public static string Dir(int version, string backend) => Path.Combine(Root, "v" + version.ToString(CultureInfo.InvariantCulture), backend);

    /// <summary>Copies the fixture's server id and keys (0600 in a 0700 keys/) into <paramref name="dataDir"/>.</summary>
    public static void CopyServerFiles(int version, string backend, string dataDir)
    {
        var from = Dir(version, backend);
        File.Copy(Path.Combine(from, "server-id"), Path.Combine(dataDir, "server-id"));
        var keys = Path.Combine(dataDir, "keys");
        Directory.CreateDirectory(keys, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var key in Directory.EnumerateFiles(Path.Combine(from, "keys")))
        {
            var to = Path.Combine(keys, Path.GetFileName(key));
            File.Copy(key, to);
            File.SetUnixFileMode(to, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>Runs the fixture's <c>sqlite3 .dump</c> into a new database file in WAL mode, as a server leaves it.</summary>
    public static async Task LoadSqliteAsync(int version, string path)
    {
        var sql = await File.ReadAllTextAsync(Path.Combine(Dir(version, "sqlite"), "datastore.sql"));
        await using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await c.OpenAsync();
        await using (var wal = c.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL";
            await wal.ExecuteNonQueryAsync();
        }

        await using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Runs the fixture's <c>pg_dump</c> into the (empty) database of <paramref name="connectionString"/> with psql.</summary>
    public static async Task LoadPostgresAsync(int version, string connectionString)
    {
        var (code, _, error) = await PsqlAsync(connectionString, "-v", "ON_ERROR_STOP=1", "-q", "-f", Path.Combine(Dir(version, "postgres"), "datastore.sql"));
        Assert.True(code == 0, $"psql exited {code}: {error}");
    }

    /// <summary>Runs psql (or pg_dump with <paramref name="tool"/>) against the database of an Npgsql connection string.</summary>
    public static async Task<(int Code, string Out, string Error)> PsqlAsync(string connectionString, params string[] args) =>
        await ToolAsync("psql", connectionString, args);

    public static async Task<(int Code, string Out, string Error)> ToolAsync(string tool, string connectionString, params string[] args)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        var psi = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["PGHOST"] = b.Host;
        psi.Environment["PGPORT"] = b.Port.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PGUSER"] = b.Username;
        psi.Environment["PGPASSWORD"] = b.Password;
        psi.Environment["PGDATABASE"] = b.Database;
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Every row of every table, per table: the column names and the rows as text, sorted.</summary>
    public static async Task<Dictionary<string, TableRows>> RowsAsync(DbConnection c)
    {
        var tables = new List<string>();
        await using (var list = c.CreateCommand())
        {
            list.CommandText = c is SqliteConnection
                ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                : "SELECT tablename FROM pg_tables WHERE schemaname = 'public'";
            await using var reader = await list.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var result = new Dictionary<string, TableRows>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            result[table] = await ReadTableAsync(c, table, null);
        }

        return result;
    }

    /// <summary>The rows of <paramref name="table"/>, only <paramref name="columns"/> (all when null), as text, sorted.</summary>
    public static async Task<TableRows> ReadTableAsync(DbConnection c, string table, IReadOnlyList<string>? columns)
    {
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT {(columns is null ? "*" : string.Join(", ", columns))} FROM {table}";
        await using var reader = await cmd.ExecuteReaderAsync();
        var names = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var row = new StringBuilder();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row.Append(names[i]).Append('=').Append(Text(reader.GetValue(i))).Append(" | ");
            }

            rows.Add(row.ToString());
        }

        rows.Sort(StringComparer.Ordinal);
        return new TableRows(names, rows);
    }

    private static string Text(object value) => value switch
    {
        DBNull => "NULL",
        byte[] bytes => "x'" + Convert.ToHexString(bytes) + "'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "NULL",
    };
}

/// <summary>One table's columns and rows (as text, sorted).</summary>
internal sealed record TableRows(IReadOnlyList<string> Columns, IReadOnlyList<string> Rows);
