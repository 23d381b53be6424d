using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.WorkloadApi;

/// <summary>Registers the Workload API client and sources for dependency injection.</summary>
public static class WorkloadApiServiceCollectionExtensions
{
    /// <summary>
    /// Registers singletons: <see cref="WorkloadApiClient"/>, <see cref="X509Source"/> (also as
    /// <see cref="IX509SvidSource"/> and <see cref="IX509BundleSource"/>), <see cref="JwtSource"/>
    /// (also as <see cref="IJwtBundleSource"/>) and <see cref="BundleSource"/>. A source starts
    /// watching when first resolved; await its <c>WaitUntilUpdatedAsync</c> at start-up.
    /// </summary>
    public static IServiceCollection AddSpiffeWorkloadApi(this IServiceCollection services, Action<WorkloadApiClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new WorkloadApiClientOptions();
        configure?.Invoke(options);
        services.AddSingleton(options);
        services.AddSingleton(sp => new WorkloadApiClient(sp.GetRequiredService<WorkloadApiClientOptions>()));
        services.AddSingleton(sp => new X509Source(sp.GetRequiredService<WorkloadApiClient>()));
        services.AddSingleton<IX509SvidSource>(sp => sp.GetRequiredService<X509Source>());
        services.AddSingleton<IX509BundleSource>(sp => sp.GetRequiredService<X509Source>());
        services.AddSingleton(sp => new JwtSource(sp.GetRequiredService<WorkloadApiClient>()));
        services.AddSingleton<IJwtBundleSource>(sp => sp.GetRequiredService<JwtSource>());
        services.AddSingleton(sp => new BundleSource(sp.GetRequiredService<WorkloadApiClient>()));
        return services;
    }
}
