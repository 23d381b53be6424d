using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Anchorage.Hosting.Health;

/// <summary>Feeds the readiness probe to ASP.NET health checks, hence to the gRPC health service.</summary>
public sealed class ReadinessHealthCheck(ReadinessProbe probe) : IHealthCheck
{
    /// <inheritdoc/>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var status = await probe.CheckAsync(cancellationToken).ConfigureAwait(false);
        return status.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(status.Reason);
    }
}
