using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Anchorage.AspNetCore.Health;

/// <summary>
/// Healthy while the source holds an X.509-SVID that is valid now and the X.509 bundle of the
/// SVID's own trust domain; unhealthy otherwise, with the reason. It reads the sources only
/// (no call to the Workload API), so it is cheap enough for a liveness probe.
/// </summary>
public sealed class SpiffeHealthCheck : IHealthCheck
{
    private readonly IX509SvidSource _svids;
    private readonly IX509BundleSource _bundles;
    private readonly TimeProvider _time;

    /// <summary>Creates the check.</summary>
    public SpiffeHealthCheck(IX509SvidSource svids, IX509BundleSource bundles, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        _svids = svids;
        _bundles = bundles;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc/>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(Check());

    private HealthCheckResult Check()
    {
        X509Svid svid;
        try
        {
            svid = _svids.GetX509Svid();
        }
        catch (InvalidOperationException ex)
        {
            return HealthCheckResult.Unhealthy("no x509-svid: " + ex.Message);
        }

        var now = _time.GetUtcNow();
        var notAfter = new DateTimeOffset(svid.Leaf.NotAfter.ToUniversalTime());
        var notBefore = new DateTimeOffset(svid.Leaf.NotBefore.ToUniversalTime());
        var data = new Dictionary<string, object>
        {
            ["spiffe_id"] = svid.Id.ToString(),
            ["not_after"] = notAfter.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        if (now >= notAfter || now < notBefore)
        {
            return HealthCheckResult.Unhealthy($"x509-svid {svid.Id} is not valid now (valid {notBefore:O} to {notAfter:O})", data: data);
        }

        if (!_bundles.TryGetX509Bundle(svid.Id.TrustDomain, out _))
        {
            return HealthCheckResult.Unhealthy($"no x509 bundle for trust domain {svid.Id.TrustDomain}", data: data);
        }

        return HealthCheckResult.Healthy($"x509-svid {svid.Id} valid until {notAfter:O}", data);
    }
}
