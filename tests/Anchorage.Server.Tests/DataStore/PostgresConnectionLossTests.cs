using Anchorage.Server.DataStore;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Postgres;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// A PostgreSQL server that drops the store's connections (a restart, a failover): calls fail as the
/// retryable <see cref="DataStoreUnavailableException"/>, the health check says so, and the store
/// recovers on its own once the server takes connections again.
/// </summary>
public sealed class PostgresConnectionLossTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [PostgresFact]
    public async Task ConnectionsTerminated_UnavailableOrServedNeverAnotherErrorThenRecovers()
    {
        await using var backend = new PostgresTestBackend();
        await backend.InitializeAsync();
        var application = "anchorage-loss-" + Guid.NewGuid().ToString("N");
        var options = DataStoreOptions.ForPostgres(
            new NpgsqlConnectionStringBuilder(backend.Options.PostgresConnectionString) { ApplicationName = application }.ToString());
        await using var store = await DataStoreFactory.OpenAsync(options, new FakeTimeProvider(), null, None);
        var node = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/n1");

        // Positive control: served, and healthy, before the connections drop.
        Assert.Null(await store.GetNodeAsync(node, None));
        Assert.Null(await store.CheckHealthAsync(None));

        var terminated = await backend.ExecuteScalarAsync(
            $"SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{application}'");
        Assert.True(Convert.ToInt64(terminated, System.Globalization.CultureInfo.InvariantCulture) >= 1);

        var unavailable = 0;
        var served = false;
        for (var attempt = 0; attempt < 20 && !served; attempt++)
        {
            try
            {
                Assert.Null(await store.GetNodeAsync(node, None));
                served = true;
            }
            catch (DataStoreUnavailableException ex)
            {
                unavailable++;
                Assert.StartsWith("datastore get node failed: ", ex.Message, StringComparison.Ordinal);
            }
        }

        Assert.True(served, $"not served again after {unavailable} unavailable answers");
        Assert.Null(await store.CheckHealthAsync(None));
    }
}
