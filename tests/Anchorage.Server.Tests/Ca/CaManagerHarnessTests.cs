using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Tests.DataStore;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Ca;

/// <summary>
/// A real SQLite datastore in a temp directory, one <see cref="DiskKeyManager"/> per server id
/// (<c>&lt;dir&gt;/&lt;server id&gt;/keys</c>), a fake clock and a log that keeps every line.
/// Each started manager gets its own store instance on the same database file (as two servers would).
/// </summary>
internal sealed class CaHarness : IAsyncDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<(CaManager Ca, IDataStore Store)> _started = [];
    private readonly DataStoreOptions? _storeOptions;

    /// <param name="clock">The fake clock; null for <see cref="CaFixture.Clock"/>.</param>
    /// <param name="storeOptions">The datastore every manager opens (e.g. a PostgreSQL schema); null for SQLite in the temp directory.</param>
    public CaHarness(FakeTimeProvider? clock = null, DataStoreOptions? storeOptions = null)
    {
        Clock = clock ?? CaFixture.Clock();
        _storeOptions = storeOptions;
    }

    public FakeTimeProvider Clock { get; }

    public LogCapture Log { get; } = new();

    public string DirectoryPath => _dir.Path;

    public X509SvidVerifier Verifier => new(Clock);

    public static CaManagerOptions Options(string serverId = "server-a") => new()
    {
        TrustDomain = CaFixture.Td,
        ServerId = serverId,
        CaTtl = TimeSpan.FromHours(1),
        X509SvidTtl = TimeSpan.FromMinutes(10),
        JwtSvidTtl = TimeSpan.FromMinutes(5),
    };

    public string KeyDirectory(string serverId) => Path.Combine(_dir.Path, serverId, "keys");

    public DiskKeyManager Keys(string serverId) => new(Path.Combine(_dir.Path, serverId));

    public Task<IDataStore> OpenStoreAsync() =>
        DataStoreFactory.OpenAsync(_storeOptions ?? DataStoreOptions.ForDataDirectory(_dir.Path), Clock, null, CancellationToken.None);

    public async Task<CaManager> StartAsync(CaManagerOptions? options = null)
    {
        options ??= Options();
        var store = await OpenStoreAsync();
        try
        {
            var ca = await CaManager.StartAsync(options, store, Keys(options.ServerId), Clock, Log.Logger, CancellationToken.None);
            _started.Add((ca, store));
            return ca;
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    /// <summary>Stops <paramref name="ca"/> and closes its store (a server shutting down).</summary>
    public async Task StopAsync(CaManager ca)
    {
        var index = _started.FindIndex(s => ReferenceEquals(s.Ca, ca));
        await ca.DisposeAsync();
        await _started[index].Store.DisposeAsync();
        _started.RemoveAt(index);
    }

    /// <summary>Advances the clock by one rotation interval and waits for the check the timer started.</summary>
    public async Task TickAsync(params CaManager[] managers)
    {
        Clock.Advance(CaManagerOptions.DefaultRotationCheckInterval);
        foreach (var ca in managers)
        {
            await ca.LastCheck;
        }
    }

    public static byte[] Csr()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=ignored", key, HashAlgorithmName.SHA256).CreateSigningRequest();
    }

    public static X509Certificate2[] Certificates(IssuedX509Svid svid) => [.. svid.Chain.Select(d => X509CertificateLoader.LoadCertificate(d))];

    public static X509Bundle X509(StoredBundle bundle) => bundle.Bundle.ToX509Bundle();

    public async ValueTask DisposeAsync()
    {
        foreach (var (ca, store) in _started)
        {
            await ca.DisposeAsync();
            await store.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }
}

/// <summary>Checks on the harness itself, so a broken fixture cannot make the CA tests pass.</summary>
public class CaManagerHarnessTests
{
    [Fact]
    public async Task TickAsync_AdvancesOneIntervalAndAwaitsTheTimerCheck()
    {
        await using var harness = new CaHarness();
        var ca = await harness.StartAsync();
        var before = harness.Clock.GetUtcNow();

        await harness.TickAsync(ca);

        Assert.Equal(before + CaManagerOptions.DefaultRotationCheckInterval, harness.Clock.GetUtcNow());
        Assert.True(ca.LastCheck.IsCompletedSuccessfully);
        Assert.NotSame(Task.CompletedTask, ca.LastCheck); // the timer did start a check
    }
}
