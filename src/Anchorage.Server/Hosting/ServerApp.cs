using System.Diagnostics.Metrics;
using Anchorage.Foundation.Audit;
using Anchorage.Hosting.Audit;
using Anchorage.Hosting.Health;
using Anchorage.Server.Api;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting.Internal;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Federation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting;

/// <summary>
/// Composes a server from its options: datastore (retried with backoff until reachable), key
/// manager, CA manager, registration and attestation services, the three listeners and, when
/// configured, the bundle endpoint, the web console and the audit trail. The
/// one place where the parts are wired together; <c>anchorage server run</c> and the tests use it.
/// </summary>
public static class ServerApp
{
    /// <summary>The longest wait between two attempts to reach the datastore at start.</summary>
    public static readonly TimeSpan DatastoreMaxRetryDelay = TimeSpan.FromSeconds(30);

    /// <summary>Starts a server and returns once every listener is bound and the CA is active.</summary>
    /// <exception cref="DataStoreUnavailableException">Cancelled while the datastore was still unreachable.</exception>
    public static async Task<RunningServer> StartAsync(
        ServerOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(time);
        var logger = loggerFactory.CreateLogger(ServerHost.LoggerCategory);
        var serverId = options.ServerId ?? ServerIdFile.LoadOrCreate(options.DataDir);
        var store = await DataStoreFactory.OpenWithRetryAsync(
            options.Datastore.ToDataStoreOptions(options.DataDir), time, logger, DatastoreMaxRetryDelay, cancellationToken).ConfigureAwait(false);
        UpstreamAuthority? upstream = null;
        CaManager? ca = null;
        FederationRefresher? refresher = null;

        // Opened first and closed last, so that every change the parts make is recorded.
        var audit = options.Audit is { } auditOptions
            ? new AuditLog(auditOptions, loggerFactory.CreateLogger("Anchorage.Foundation.Audit"), time)
            : null;
        try
        {
            if (options.Ca.Upstream is { } u)
            {
                upstream = UpstreamAuthority.Load(u.CertFile, u.KeyFile, u.BundleFile ?? u.CertFile, time);
            }

            // https_web files are loaded before the CA starts, so a bad pair stops the start early.
            var servingCertificate = options.Federation.BundleEndpoint is { Profile: BundleEndpointProfile.HttpsWeb } web
                ? new ServingCertificateFiles(
                    web.ServingCert?.CertFile ?? throw new ArgumentException("federation.bundleEndpoint.servingCert is required with profile https_web", nameof(options)),
                    web.ServingCert.KeyFile,
                    time,
                    logger)
                : null;

            var consoleCertificate = options.Console?.ServingCert is { } consoleCert
                ? new ServingCertificateFiles(consoleCert.CertFile, consoleCert.KeyFile, time, logger)
                : null;

            ca = await CaManager.StartAsync(
                new CaManagerOptions
                {
                    TrustDomain = options.TrustDomain,
                    ServerId = serverId,
                    KeyType = options.Ca.KeyType,
                    CaTtl = options.Ca.CaTtl,
                    X509SvidTtl = options.Ca.X509SvidTtl,
                    JwtSvidTtl = options.Ca.JwtSvidTtl,
                    RefreshHint = options.Bundle.RefreshHint,
                    UpstreamAuthority = upstream,
                    Audit = audit,
                },
                store,
                new DiskKeyManager(options.DataDir),
                time,
                loggerFactory.CreateLogger("Anchorage.Server.Ca"),
                cancellationToken).ConfigureAwait(false);

            var caManager = ca;
            refresher = new FederationRefresher(
                store, new BundleFetcher(time), options.Federation, time, loggerFactory.CreateLogger("Anchorage.Server.Federation"), audit);
            var setup = new ServerHostSetup
            {
                // Attestation needs no client certificate; every other agent call is
                // authenticated by the agent API itself against this trust domain's bundle.
                AgentTls = new SpiffeServerTlsProvider(
                    ca.ServerSvid, ca, Authorizer.MemberOf(options.TrustDomain), requireClientCertificate: false, time),
                Readiness = async cancel => await store.CheckHealthAsync(cancel).ConfigureAwait(false) is { } storeProblem
                    ? ReadinessStatus.NotReady(storeProblem)
                    : caManager.ActiveX509Authority is null
                        ? ReadinessStatus.NotReady("the ca has no active x509 authority")
                        : ReadinessStatus.Ready,
                ConfigureServices = services =>
                {
                    services.AddSingleton(store);
                    services.AddSingleton<ICertificateAuthority>(caManager);
                    services.AddSingleton(caManager);
                    services.AddSingleton<IFederationRefresher>(refresher);
                    if (audit is not null)
                    {
                        // An instance, not a factory: the container does not dispose it, RunningServer does, last.
                        services.AddSingleton<IAuditSink>(audit);
                    }

                    services.AddSingleton(sp => new FederationMetrics(sp.GetRequiredService<IMeterFactory>(), refresher, time));
                    services.AddAnchorageApis(options.AgentApiLimits.ToApiOptions());
                },
                BundleEndpointCertificate = options.Federation.BundleEndpoint is null
                    ? null
                    : servingCertificate ?? (IServerCertificateProvider)new SvidCertificateProvider(ca.ServerSvid),

                ConsoleCertificate = consoleCertificate,

                // Read through on every request: the latest bundle, whichever server sharing the datastore published it.
                TrustBundle = async cancel => (await caManager.GetBundleAsync(cancel).ConfigureAwait(false)).Bundle,
                MapAgentApi = ApiEndpoints.MapAgentApi,
                MapAdminApi = ApiEndpoints.MapAdminApi,
                MaxAgentConnectionsPerPeer = options.AgentApiLimits.MaxConnectionsPerPeer,
                AgentRequestBodyDeadline = options.AgentApiLimits.RequestBodyDeadline,
                TimeProvider = time,
            };
            var host = await ServerHost.StartAsync(options, setup, loggerFactory, cancellationToken).ConfigureAwait(false);

            // Created before the first fetch so that its failure is counted.
            host.Services.GetRequiredService<FederationMetrics>();
            refresher.Start();
            return new RunningServer(host, ca, store, upstream, refresher, audit);
        }
        catch
        {
            if (refresher is not null)
            {
                await refresher.DisposeAsync().ConfigureAwait(false);
            }

            if (ca is not null)
            {
                await ca.DisposeAsync().ConfigureAwait(false);
            }

            upstream?.Dispose();
            await store.DisposeAsync().ConfigureAwait(false);
            if (audit is not null)
            {
                await audit.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Runs a server until <paramref name="cancellationToken"/> is cancelled (SIGINT/SIGTERM).</summary>
    public static async Task RunAsync(ServerOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        var server = await StartAsync(options, loggerFactory, time, cancellationToken).ConfigureAwait(false);
        await using (server.ConfigureAwait(false))
        {
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Shutdown requested.
            }
        }
    }
}
