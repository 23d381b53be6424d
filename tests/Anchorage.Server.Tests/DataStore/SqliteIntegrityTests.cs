using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>What the SQLite file promises on disk: owner-only modes, and a damaged file refused rather than served.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SqliteIntegrityTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly TempDir _dir = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));

    private string DbPath => Path.Combine(_dir.Path, "datastore.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private Task<IDataStore> OpenAsync() => DataStoreFactory.OpenAsync(DataStoreOptions.ForDataDirectory(_dir.Path), _clock, null, None);

    private static RegistrationEntry Entry(int i) => new()
    {
        Id = "e" + i.ToString("d4", System.Globalization.CultureInfo.InvariantCulture),
        SpiffeId = SpiffeId.Parse("spiffe://example.org/workload/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ParentId = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/a1"),
        Selectors = [Selector.Parse("unix:uid:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))],
    };

    /// <summary>A store with enough entries to span many pages, closed and checkpointed.</summary>
    private async Task FillAndCloseAsync()
    {
        var store = await OpenAsync();
        for (var i = 0; i < 300; i++)
        {
            await store.CreateEntryAsync(Entry(i), None);
        }

        await store.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Overwrites the file's last two pages with junk, as a bad disk or a torn copy would.</summary>
    private void DamageLastPages()
    {
        using var file = new FileStream(DbPath, FileMode.Open, FileAccess.ReadWrite);
        var junk = Enumerable.Repeat((byte)0xAB, 2 * 4096).ToArray();
        file.Seek(-junk.Length, SeekOrigin.End);
        file.Write(junk);
    }

    [Fact]
    public async Task Open_NewStore_DatabaseWalAndShmOwnerOnly()
    {
        await using var store = await OpenAsync();
        await store.CreateEntryAsync(Entry(1), None);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(DbPath));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(DbPath + "-wal"));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(DbPath + "-shm"));
    }

    [Fact]
    public async Task Open_ExistingFileReadableByOthers_TightenedToOwnerOnly()
    {
        await FillAndCloseAsync();
        File.SetUnixFileMode(DbPath, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await using var store = await OpenAsync();

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(DbPath));
        Assert.Equal(300, await store.CountEntriesAsync(None));
    }

    [Fact]
    public async Task Open_DamagedPages_RefusedNamingTheFile()
    {
        await FillAndCloseAsync();

        // Positive control: the same file, undamaged, opens and answers.
        await using (var good = await OpenAsync())
        {
            Assert.Null(await good.CheckHealthAsync(None));
            Assert.Equal(300, await good.CountEntriesAsync(None));
        }

        SqliteConnection.ClearAllPools();
        DamageLastPages();

        var ex = await Assert.ThrowsAsync<InvalidDataException>(OpenAsync);

        Assert.StartsWith($"sqlite database \"{DbPath}\" is ", ex.Message, StringComparison.Ordinal);
        Assert.Matches("is damaged \\(quick_check: .+\\); the server does not serve from a damaged store: restore it from a backup$|is not a database or is corrupt: ", ex.Message);
    }

    [Fact]
    public async Task CheckHealth_DamagedWhileOpen_ReportsItAfterTheCheckInterval()
    {
        await FillAndCloseAsync();
        await using var store = await OpenAsync();
        Assert.Null(await store.CheckHealthAsync(None));

        SqliteConnection.ClearAllPools();
        DamageLastPages();
        var cached = await store.CheckHealthAsync(None);
        _clock.Advance(TimeSpan.FromSeconds(11));
        var problem = await store.CheckHealthAsync(None);

        Assert.Null(cached); // within the interval the last finding is answered, without reading the file again
        Assert.NotNull(problem);
        Assert.StartsWith($"sqlite database \"{DbPath}\" is damaged (quick_check: ", problem, StringComparison.Ordinal);
    }
}
