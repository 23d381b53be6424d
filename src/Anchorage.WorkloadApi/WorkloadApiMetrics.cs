namespace Anchorage.WorkloadApi;

/// <summary>
/// The <see cref="System.Diagnostics.Metrics"/> instruments of the sources, for OpenTelemetry
/// (<c>AddMeter(WorkloadApiMetrics.MeterName)</c>) or <c>dotnet-counters</c>. Every measurement is
/// tagged <c>source</c>: <c>x509</c> (<see cref="X509Source"/>), <c>jwt_bundles</c>
/// (<see cref="JwtSource"/>), <c>bundle_x509</c> and <c>bundle_jwt</c> (<see cref="BundleSource"/>).
/// </summary>
public static class WorkloadApiMetrics
{
    /// <summary>The meter: <c>Anchorage.WorkloadApi</c>.</summary>
    public const string MeterName = "Anchorage.WorkloadApi";

    /// <summary>Counter of updates applied by the sources (unit <c>{update}</c>).</summary>
    public const string Updates = "anchorage.workload_api.source.updates";

    /// <summary>
    /// Gauge of the seconds since a source's last update (unit <c>s</c>); with several live
    /// sources of one kind, the oldest. A source without any update yet reports nothing.
    /// </summary>
    public const string LastUpdateAge = "anchorage.workload_api.source.last_update.age";
}
