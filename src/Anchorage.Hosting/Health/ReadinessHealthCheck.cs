using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>Feeds the readiness callback to ASP.NET health checks, hence to the gRPC health service.</summary>
internal sealed class ReadinessHealthCheck(ReadinessProbe probe) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = await probe.CheckAsync(cancellationToken).ConfigureAwait(false);
        return status.IsReady ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(status.Reason);
    }
}
