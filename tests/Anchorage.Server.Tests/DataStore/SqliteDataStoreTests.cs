using Anchorage.Server.DataStore;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>The contract suite on SQLite, plus what only SQLite has (a file, a journal mode).</summary>
public sealed class SqliteDataStoreTests : DataStoreContractTests<SqliteTestBackend>
{
    [Fact]
    public async Task Open_NewFile_WalJournalAndForeignKeysOn()
    {
        Assert.Equal("wal", await Backend.ExecuteScalarAsync("PRAGMA journal_mode"));
        Assert.True(File.Exists(Path.Combine(Backend.DirectoryPath, "datastore.db")));

        // Foreign keys are on for the store's connections: deleting an entry cascades to its selector rows.
        await Store.CreateEntryAsync(Entry("e1"), None);
        await Store.DeleteEntryAsync("e1", None);
        Assert.Equal(0L, await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM entry_selectors"));
    }

    [Fact]
    public async Task Open_DirectoryMissing_UnavailableNamingTheFile()
    {
        var path = Path.Combine(Backend.DirectoryPath, "missing", "datastore.db");

        var ex = await Assert.ThrowsAsync<DataStoreUnavailableException>(
            () => DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), Clock, null, None));

        Assert.Equal($"cannot open sqlite database \"{path}\": SQLite Error 14: 'unable to open database file'.", ex.Message);
    }

    [Fact]
    public async Task Open_FileIsNotADatabase_InvalidData()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "datastore.db");
        await File.WriteAllTextAsync(path, new string('x', 4096));

        var ex = await Assert.ThrowsAsync<InvalidDataException>(
            () => DataStoreFactory.OpenAsync(new DataStoreOptions(DataStoreKind.Sqlite, path), Clock, null, None));

        Assert.Equal($"sqlite database \"{path}\" is not a database or is corrupt: SQLite Error 26: 'file is not a database'.", ex.Message);
    }

    [Fact]
    public async Task OpenWithRetry_DirectoryAppearsLater_RetriesWithDoublingDelayAndOpens()
    {
        var dir = Path.Combine(Backend.DirectoryPath, "later");
        var options = DataStoreOptions.ForDataDirectory(dir);
        var clock = new FakeTimeProvider(Start);
        using var logger = new LogCapture();

        var opening = DataStoreFactory.OpenWithRetryAsync(options, clock, logger.Logger, TimeSpan.FromSeconds(3), None);
        for (var i = 0; i < 1000 && logger.Events.Count(l => l.EventId == 3102) < 3; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        Directory.CreateDirectory(dir);
        for (var i = 0; i < 1000 && !opening.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5);
        }

        await using var store = await opening;
        await store.CreateEntryAsync(Entry("e1"), None);
        var failures = logger.Events.Where(l => l.EventId == 3102).Select(l => l.Message).ToArray();
        Assert.True(failures.Length >= 3);
        // The shared Backoff with equal jitter: step n waits between half and all of min(1 s x 2^(n-1), 3 s).
        (int Attempt, double Step)[] steps = [(1, 1), (2, 2), (3, 3)];
        foreach (var (attempt, step) in steps)
        {
            var match = System.Text.RegularExpressions.Regex.Match(
                failures[attempt - 1], @"^datastore unavailable \(attempt (\d+)\), retrying in ([0-9:.]+): cannot open sqlite database");
            Assert.True(match.Success, failures[attempt - 1]);
            Assert.Equal(attempt, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.InRange(TimeSpan.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture).TotalSeconds, step / 2, step);
        }
    }

    [Fact]
    public async Task OpenWithRetry_Cancelled_StopsRetrying()
    {
        var options = DataStoreOptions.ForDataDirectory(Path.Combine(Backend.DirectoryPath, "never"));
        using var cts = new CancellationTokenSource();
        var opening = DataStoreFactory.OpenWithRetryAsync(options, new FakeTimeProvider(Start), null, TimeSpan.FromSeconds(1), cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => opening);
    }
}
