using System.Collections.Immutable;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Server.Tests.DataStore;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Registration;

/// <summary>A real SQLite datastore in a temp directory, a fake clock, a log that keeps every line, and entry helpers.</summary>
public abstract class RegistrationFixture : IAsyncLifetime, IDisposable
{
    public static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly TrustDomain Td = TrustDomain.Parse("example.org");

    public static readonly SpiffeId AgentId = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/0123456789abcdef");

    public static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://example.org/anchorage/server");

    private readonly TempDir _dir = new();
    private IDataStore? _store;

    protected static CancellationToken None => CancellationToken.None;

    protected FakeTimeProvider Clock { get; } = new(Start);

    protected LogCapture Log { get; } = new();

    protected IDataStore Store => _store ?? throw new InvalidOperationException("not initialized");

    protected EntryService Entries => new(Store, new EntryValidator(Td), Log.Logger);

    public static RegistrationEntry Entry(string spiffePath = "/web", SpiffeId? parent = null, params string[] selectors) => new()
    {
        Id = string.Empty,
        SpiffeId = SpiffeId.FromPath(Td, spiffePath),
        ParentId = parent ?? AgentId,
        Selectors = selectors.Length == 0 ? [Selector.Parse("unix:uid:1000")] : [.. selectors.Select(Selector.Parse)],
    };

    public static ImmutableArray<Selector> Selectors(params string[] selectors) => [.. selectors.Select(Selector.Parse)];

    public async Task InitializeAsync() =>
        _store = await DataStoreFactory.OpenAsync(DataStoreOptions.ForDataDirectory(_dir.Path), Clock, null, None);

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        Dispose();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_dir.Path))
        {
            _dir.Dispose();
        }

        GC.SuppressFinalize(this);
    }
}
