using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Foundation.Config;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting;
using Anchorage.Server.Tests.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Bundles;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.Server.Tests.Hosting;

/// <summary>
/// The federation metrics on a real server's <c>/metrics</c> (<see cref="ServerApp"/>, SQLite):
/// a relationship whose endpoint refuses connections, refreshed once.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class FederationMetricsTests : IDisposable
{
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.acme.corp");
    private static readonly TrustDomain Idle = TrustDomain.Parse("idle.example.net");

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Metrics_AfterAFailedRefresh_AgeSequenceAndFailuresPerTrustDomain()
    {
        var options = Options();
        var closedPort = LoopbackPort.Unused();

        Directory.CreateDirectory(options.DataDir);

        // Stored before the server starts, due far in the future: only the explicit refresh below fetches.
        await using (var store = await DataStoreFactory.OpenAsync(options.Datastore.ToDataStoreOptions(options.DataDir), _time, NullLogger.Instance, CancellationToken.None))
        {
            foreach (var td in new[] { Payments, Idle })
            {
                await store.CreateRelationshipAsync(RefusingRelationship.On(td, closedPort, "payments-platform@acme.corp"), CancellationToken.None);
                await store.SetBundleAsync(new SpiffeBundle(td, [TestAuthorities.Ca(td.Name)], [], sequenceNumber: td == Payments ? 5UL : 9UL), CancellationToken.None);
            }

            await store.UpdateRefreshStateAsync(
                Payments,
                new FederationRefreshState { LastSuccess = _time.GetUtcNow() - TimeSpan.FromSeconds(120), NextRefresh = _time.GetUtcNow() + TimeSpan.FromDays(1) },
                CancellationToken.None);
            await store.UpdateRefreshStateAsync(Idle, new FederationRefreshState { NextRefresh = _time.GetUtcNow() + TimeSpan.FromDays(1) }, CancellationToken.None);
        }

        await using var server = await ServerApp.StartAsync(options, NullLoggerFactory.Instance, _time, CancellationToken.None);
        var state = await server.Federation.RefreshNowAsync(Payments, CancellationToken.None);
        Assert.Equal(1, state.ConsecutiveFailures);

        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{server.Host.HealthEndpoint.Port}/metrics"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches(Sample("anchorage_federation_refresh_failures_total", Payments, "1"), body);
        Assert.Matches(Sample("anchorage_federation_bundle_age_seconds", Payments, "120"), body);
        Assert.Matches(Sample("anchorage_federation_bundle_sequence", Payments, "5"), body);

        // Positive control for the tag: the relationship that was not fetched has no failures and
        // (never refreshed) no age; its sequence is unknown to this server until it fetches.
        Assert.DoesNotMatch(Sample("anchorage_federation_refresh_failures_total", Idle, @"\d+"), body);
        Assert.DoesNotMatch(Sample("anchorage_federation_bundle_age_seconds", Idle, @"\d+"), body);
    }

    private static string Sample(string name, TrustDomain td, string value) =>
        $@"(?m)^{name}\{{[^}}]*trust_domain=""{td.Name.Replace(".", @"\.", StringComparison.Ordinal)}""[^}}]*\}} {value}(\.0+)?( \d+)?$";

    private ServerOptions Options() => new()
    {
        TrustDomain = TrustDomain.Parse("acme.corp"),
        DataDir = Path.Join(_dir.Path, "data"),
        Listen = new ListenerOptions
        {
            AgentApi = new HostPort("127.0.0.1", 0),
            Health = new HostPort("127.0.0.1", 0),
            AdminSocket = Path.Join(_dir.Path, "admin.sock"),
        },
    };
}
