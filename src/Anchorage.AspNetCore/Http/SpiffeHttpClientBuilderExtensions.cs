using Anchorage.Spiffe.Authorization;
using Anchorage.WorkloadApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Anchorage.AspNetCore.Http;

/// <summary>SPIFFE for named and typed <see cref="HttpClient"/>s (<c>services.AddHttpClient(...)</c>).</summary>
public static class SpiffeHttpClientBuilderExtensions
{
    /// <summary>
    /// The client's primary handler becomes a <see cref="SpiffeMtlsHttpHandler"/> over the
    /// <see cref="X509Source"/> of the services (registered with default options when missing):
    /// it presents the current SVID and talks only to servers <paramref name="serverAuthorizer"/> allows.
    /// </summary>
    public static IHttpClientBuilder AddSpiffeMtls(
        this IHttpClientBuilder builder, Authorizer serverAuthorizer, Action<SpiffeMtlsHttpHandlerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serverAuthorizer);
        EnsureWorkloadApi(builder.Services);
        return builder.ConfigurePrimaryHttpMessageHandler(services =>
        {
            var source = services.GetRequiredService<X509Source>();
            var options = new SpiffeMtlsHttpHandlerOptions();
            configure?.Invoke(options);
            var logger = services.GetService<ILoggerFactory>()?.CreateLogger("Anchorage.AspNetCore.Http");
            return new SpiffeMtlsHttpHandler(source, source, serverAuthorizer, options, logger);
        });
    }

    /// <summary>
    /// Every request carries a JWT-SVID for <paramref name="audience"/> from the
    /// <see cref="JwtSource"/> of the services (registered with default options when missing).
    /// </summary>
    public static IHttpClientBuilder AddJwtSvid(this IHttpClientBuilder builder, string audience)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(audience);
        EnsureWorkloadApi(builder.Services);
        return builder.AddHttpMessageHandler(services =>
            new JwtSvidHttpHandler(services.GetRequiredService<JwtSource>(), audience));
    }

    private static void EnsureWorkloadApi(IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(X509Source)))
        {
            services.AddSpiffeWorkloadApi();
        }
    }
}
