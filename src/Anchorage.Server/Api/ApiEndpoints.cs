using Anchorage.Foundation.Audit;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting.Internal;
using Anchorage.Server.Registration;
using Anchorage.Server.WebConsole;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Api;

/// <summary>
/// Plugs the agent and admin APIs into the host: <see cref="AddAnchorageApis"/> in
/// <c>ServerHostSetup.ConfigureServices</c>, <see cref="MapAgentApi"/> and <see cref="MapAdminApi"/>
/// in <c>ServerHostSetup.MapAgentApi</c> / <c>MapAdminApi</c>.
/// </summary>
public static class ApiEndpoints
{
    /// <summary>
    /// Registers both services, their shared parts (the signing admission limit, the entry snapshot,
    /// the agent authenticator) and the interceptor that makes every status through
    /// <see cref="GrpcStatusMapper"/>. Needs <see cref="IDataStore"/>, <see cref="ICertificateAuthority"/>
    /// and <see cref="TimeProvider"/> registered (and <see cref="IFederationRefresher"/> for <c>RefreshFederation</c>, optional); <see cref="EntryValidator"/>, <see cref="EntryService"/>,
    /// <see cref="JoinTokenService"/> and <see cref="NodeService"/> are added with defaults unless already registered.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">The API limits; default <see cref="ApiOptions"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static IServiceCollection AddAnchorageApis(this IServiceCollection services, ApiOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        options ??= new ApiOptions();
        options.Validate();
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.TryAddSingleton(sp => new EntryValidator(sp.GetRequiredService<ICertificateAuthority>().TrustDomain));
        services.TryAddSingleton(sp => new EntryService(
            sp.GetRequiredService<IDataStore>(), sp.GetRequiredService<EntryValidator>(), Logger<EntryService>(sp)));
        services.TryAddSingleton(sp => new NodeService(
            sp.GetRequiredService<IDataStore>(), sp.GetRequiredService<TimeProvider>(), Logger<NodeService>(sp)));
        services.TryAddSingleton(sp => new JoinTokenService(
            sp.GetRequiredService<IDataStore>(), sp.GetRequiredService<EntryService>(), sp.GetRequiredService<TimeProvider>(), Logger<JoinTokenService>(sp)));

        services.TryAddSingleton(sp => new SigningAdmission(options, sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton(sp => new EntrySnapshotCache(
            sp.GetRequiredService<IDataStore>(), sp.GetRequiredService<ICertificateAuthority>().TrustDomain, sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton(sp => new AgentAuthenticator(
            sp.GetRequiredService<ICertificateAuthority>(), sp.GetRequiredService<NodeService>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddSingleton(sp => sp.GetService<ServerOptions>() is { } server
            ? server.Governance.ApprovalRules(server.Federation)
            : FederationApprovalRules.Default);
        services.TryAddSingleton(sp => new WithheldBundles(
            sp.GetRequiredService<IDataStore>(), sp.GetRequiredService<FederationApprovalRules>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(sp => new BundleChangeFeed(
            sp.GetRequiredService<IDataStore>(),
            sp.GetRequiredService<ICertificateAuthority>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(ApiLog.Category),
            withheld: sp.GetRequiredService<WithheldBundles>()));

        // The services are stateless beyond the singletons above, so one instance each serves every call.
        services.TryAddSingleton(sp => new AgentApiService(
            sp.GetRequiredService<ICertificateAuthority>(),
            sp.GetRequiredService<IDataStore>(),
            sp.GetRequiredService<JoinTokenService>(),
            sp.GetRequiredService<NodeService>(),
            options,
            sp.GetRequiredService<SigningAdmission>(),
            sp.GetRequiredService<EntrySnapshotCache>(),
            sp.GetRequiredService<AgentAuthenticator>(),
            sp.GetRequiredService<BundleChangeFeed>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<WithheldBundles>()));
        services.TryAddSingleton(sp => new AdminApiService(
            sp.GetRequiredService<EntryService>(),
            sp.GetRequiredService<JoinTokenService>(),
            sp.GetRequiredService<NodeService>(),
            sp.GetRequiredService<IDataStore>(),
            sp.GetRequiredService<ICertificateAuthority>(),
            sp.GetRequiredService<SigningAdmission>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<IFederationRefresher>(),
            sp.GetService<ServerOptions>()?.Federation.BundleEndpoint,
            sp.GetService<BoundListeners>(),
            sp.GetService<IAuditSink>(),
            sp.GetRequiredService<BundleChangeFeed>(),
            sp.GetRequiredService<FederationApprovalRules>(),
            sp.GetService<ServerOptions>()?.Federation.RefreshFloor,
            sp.GetService<ServerOptions>()?.Governance.UnusedAfter,
            sp.GetService<ConsoleSessions>()));

        services.TryAddSingleton<GrpcStatusInterceptor>();
        services.AddGrpc()
            .AddServiceOptions<AgentApiService>(o =>
            {
                o.Interceptors.Add<GrpcStatusInterceptor>();
                o.MaxReceiveMessageSize = options.MaxAgentMessageBytes;
            })
            .AddServiceOptions<AdminApiService>(o => o.Interceptors.Add<GrpcStatusInterceptor>());
        return services;
    }

    /// <summary>Maps the agent API; pass to <c>ServerHostSetup.MapAgentApi</c> (mutual-TLS listener only).</summary>
    public static void MapAgentApi(IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<AgentApiService>();
    }

    /// <summary>Maps the admin API; pass to <c>ServerHostSetup.MapAdminApi</c> (admin socket only, admin uids only).</summary>
    public static void MapAdminApi(IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGrpcService<AdminApiService>();
    }

    private static ILogger Logger<T>(IServiceProvider services) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(T).FullName!);
}
