using Anchorage.WorkloadApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Anchorage.AspNetCore.Health;

/// <summary>Adds <see cref="SpiffeHealthCheck"/> to <c>services.AddHealthChecks()</c>.</summary>
public static class SpiffeHealthChecksBuilderExtensions
{
    /// <summary>A <see cref="SpiffeHealthCheck"/> over the <see cref="X509Source"/> of the services, named <paramref name="name"/>.</summary>
    public static IHealthChecksBuilder AddSpiffe(this IHealthChecksBuilder builder, string name = "spiffe", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(
            name,
            services =>
            {
                var source = services.GetRequiredService<X509Source>();
                return new SpiffeHealthCheck(source, source, services.GetService<TimeProvider>());
            },
            HealthStatus.Unhealthy,
            tags));
    }
}
