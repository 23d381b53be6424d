using System.Diagnostics.Metrics;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>
/// Per federated trust domain (tag <c>trust_domain</c>) on the <c>Anchorage.Server</c> meter:
/// <c>anchorage.federation.bundle.age</c> (seconds since the last successful refresh),
/// <c>anchorage.federation.refresh.failures</c> (failed or rejected fetches by this server) and
/// <c>anchorage.federation.bundle.sequence</c> (the stored bundle's sequence as last seen).
/// The gauges read what the refresher cached; a scrape never touches the datastore.
/// </summary>
internal sealed class FederationMetrics : IDisposable
{
    private const string TrustDomainTag = "trust_domain";

    private readonly FederationRefresher _refresher;
    private readonly TimeProvider _time;
    private readonly Counter<long> _failures;

    public FederationMetrics(IMeterFactory meterFactory, FederationRefresher refresher, TimeProvider time)
    {
        _refresher = refresher;
        _time = time;
        var meter = meterFactory.Create(ServerHost.MeterName);
        _failures = meter.CreateCounter<long>(
            "anchorage.federation.refresh.failures", description: "Federated bundle fetches that failed or whose bundle was rejected.");
        meter.CreateObservableGauge(
            "anchorage.federation.bundle.age", ObserveAge, unit: "s", description: "Seconds since the federated bundle was last refreshed successfully.");
        meter.CreateObservableGauge(
            "anchorage.federation.bundle.sequence", ObserveSequence, description: "The spiffe_sequence of the stored federated bundle.");
        _refresher.RefreshFailed += OnRefreshFailed;
    }

    public void Dispose() => _refresher.RefreshFailed -= OnRefreshFailed;

    private static KeyValuePair<string, object?> Tag(TrustDomain trustDomain) => new(TrustDomainTag, trustDomain.Name);

    private void OnRefreshFailed(object? sender, TrustDomain trustDomain) => _failures.Add(1, Tag(trustDomain));

    private IEnumerable<Measurement<double>> ObserveAge()
    {
        var now = _time.GetUtcNow();
        return _refresher.Readings
            .Where(r => r.LastSuccess is not null)
            .Select(r => new Measurement<double>(Math.Max(0, (now - r.LastSuccess!.Value).TotalSeconds), Tag(r.TrustDomain)))
            .ToList();
    }

    private IEnumerable<Measurement<long>> ObserveSequence() => _refresher.Readings
        .Where(r => r.Sequence is not null)
        .Select(r => new Measurement<long>((long)Math.Min(r.Sequence!.Value, long.MaxValue), Tag(r.TrustDomain)))
        .ToList();
}
