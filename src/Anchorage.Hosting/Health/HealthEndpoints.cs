using System.Net;
using Anchorage.Hosting.Listeners;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Anchorage.Hosting.Health;

/// <summary>
/// The health listener both hosts serve alike (HTTP/1.1: <c>/live</c>, <c>/ready</c> from the
/// <see cref="ReadinessProbe"/>, <c>/metrics</c> for Prometheus) and the gRPC health service's
/// readiness check, so a probe or a scraper sees the server and the agent answer the same way.
/// </summary>
public static class HealthEndpoints
{
    /// <summary>
    /// Registers the gRPC health checks (one, <c>ready</c>, fed by <see cref="ReadinessHealthCheck"/>)
    /// and the metrics of <paramref name="meterName"/> with the Prometheus exporter. The host
    /// registers its <see cref="ReadinessProbe"/> itself.
    /// </summary>
    public static IServiceCollection AddHealthAndMetrics(this IServiceCollection services, string meterName)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddGrpcHealthChecks().AddCheck<ReadinessHealthCheck>("ready");
        services.AddOpenTelemetry().WithMetrics(m => m.AddMeter(meterName).AddPrometheusExporter());
        return services;
    }

    /// <summary>Binds the health listener (HTTP/1.1) on <paramref name="endpoint"/>, its connections tagged <paramref name="health"/>.</summary>
    /// <returns>The listener's options, whose endpoint tells the bound port once the host has started.</returns>
    public static ListenOptions ListenHealth<TListener>(this KestrelServerOptions kestrel, IPEndPoint endpoint, TListener health)
        where TListener : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        ListenOptions? bound = null;
        kestrel.Listen(endpoint, listen =>
        {
            bound = listen;
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(ListenerPipeline.Tag(health));
        });
        return bound!;
    }

    /// <summary>
    /// Maps <c>/live</c>, <c>/ready</c> (200 or 503 with the probe's reason on one line) and
    /// <c>/metrics</c> to the <paramref name="health"/> listener only.
    /// </summary>
    public static void MapHealthEndpoints<TListener>(this WebApplication app, TListener health)
        where TListener : struct, Enum
    {
        ArgumentNullException.ThrowIfNull(app);
        var metadata = new ListenerMetadata<TListener>(health);
        app.MapGet("/live", () => Results.Text("live\n")).WithMetadata(metadata);
        app.MapGet("/ready", async (ReadinessProbe probe, HttpContext context) =>
        {
            var status = await probe.CheckAsync(context.RequestAborted).ConfigureAwait(false);
            return Results.Text(
                status.Reason.ReplaceLineEndings(" ") + "\n",
                statusCode: status.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        }).WithMetadata(metadata);
        app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(metadata);
    }
}
