using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.WorkloadApi.Server;

/// <summary>Registers and maps the SPIFFE Workload API in an ASP.NET Core host.</summary>
public static class WorkloadApiExtensions
{
    /// <summary>
    /// Adds gRPC and the Workload API service. The host must also register an
    /// <see cref="IWorkloadIdentityProvider"/> singleton.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The configured options are out of range.</exception>
    public static IServiceCollection AddWorkloadApi(this IServiceCollection services, Action<WorkloadApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new WorkloadApiOptions();
        configure?.Invoke(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxStreamsPerCaller, 1, "MaxStreamsPerCaller");
        services.AddGrpc();
        services.AddSingleton(options);

        // One instance: the per-caller stream counts must be shared by every call.
        services.AddSingleton<WorkloadApiService>();
        return services;
    }

    /// <summary>Maps the Workload API's gRPC endpoints (paths <c>/SpiffeWorkloadAPI/&lt;Method&gt;</c>).</summary>
    public static GrpcServiceEndpointConventionBuilder MapWorkloadApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return endpoints.MapGrpcService<WorkloadApiService>();
    }
}
