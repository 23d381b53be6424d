using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Sockets;
using Anchorage.Hosting.Health;
using Anchorage.Hosting.Lifetime;
using Anchorage.Hosting.Listeners;
using Anchorage.Server.Api;
using Anchorage.Server.Config;
using Anchorage.Server.Hosting.Internal;
using Anchorage.Server.WebConsole;
using Anchorage.Server.WebConsole.Internal;
using Anchorage.Spiffe.Federation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Server.Hosting;

/// <summary>
/// The server process on Kestrel: the agent API (HTTP/2 over mutual TLS), the admin API (HTTP/2
/// on a unix socket, mode 0600, callers checked by uid with <c>SO_PEERCRED</c>) and the health
/// listener (HTTP/1.1: <c>/live</c>, <c>/ready</c>, <c>/metrics</c>), and when configured the bundle
/// endpoint (HTTPS without client authentication, <c>GET /</c>: the trust bundle) and the read-only
/// web console (its own listener, a session cookie from a one-time login token). gRPC health is
/// served on the agent and admin listeners.
/// </summary>
public static class ServerHost
{
    /// <summary>The name of the server's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Anchorage.Server";

    /// <summary>The logger category of hosting events.</summary>
    public const string LoggerCategory = "Anchorage.Server.Hosting";

    /// <summary>Starts the server and runs it until <paramref name="cancellationToken"/> fires or the host stops itself.</summary>
    /// <exception cref="IOException">The admin socket is in use by another server, or a listener cannot bind.</exception>
    public static async Task RunAsync(
        ServerOptions options, ServerHostSetup setup, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        var handle = await StartAsync(options, setup, loggerFactory, cancellationToken).ConfigureAwait(false);
        await DaemonHost.RunUntilStoppedAsync(handle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts the server and returns once every listener is bound. Port 0 binds a free port; the
    /// handle tells which. Dispose the handle to stop.
    /// </summary>
    /// <exception cref="IOException">The admin socket is in use by another server, or a listener cannot bind.</exception>
    public static async Task<ServerHostHandle> StartAsync(
        ServerOptions options, ServerHostSetup setup, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(setup);
        var bundleEndpoint = options.Federation.BundleEndpoint;
        if (bundleEndpoint is not null && (setup.BundleEndpointCertificate is null || setup.TrustBundle is null))
        {
            throw new ArgumentException(
                "federation.bundleEndpoint is configured: setup.BundleEndpointCertificate and setup.TrustBundle are required", nameof(setup));
        }

        var console = options.Console;
        if (console is { UsesTls: true } && setup.ConsoleCertificate is null)
        {
            throw new ArgumentException("console.servingCert is configured: setup.ConsoleCertificate is required", nameof(setup));
        }

        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(LoggerCategory);

        var serverId = options.ServerId ?? ServerIdFile.LoadOrCreate(options.DataDir);
        var socketPath = options.AdminSocketPath;
        if (await UnixSocketFile.PrepareAsync(
            socketPath, "admin socket", $"admin socket {socketPath} is in use by another process", directoryMode: null, cancellationToken).ConfigureAwait(false))
        {
            HostingLog.StaleSocketRemoved(logger, socketPath);
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(setup.MaxAgentConnectionsPerPeer, 1, nameof(setup));
        var peerLimit = new PeerConnectionLimit(setup.MaxAgentConnectionsPerPeer, logger);
        ListenOptions? agentListen = null;
        ListenOptions? healthListen = null;
        ListenOptions? bundleListen = null;
        ListenOptions? consoleListen = null;
        // Everything comes from ServerOptions: no appsettings, environment or Kestrel config section adds listeners.
        var builder = DaemonHost.CreateBuilder(loggerFactory);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(setup.TimeProvider);
        builder.Services.AddSingleton(sp => new ReadinessProbe(setup.Readiness, e => HostingLog.ReadinessCheckFailed(sp.GetRequiredService<ILogger<ReadinessProbe>>(), e)));
        builder.Services.AddSingleton<ServerMetrics>();
        var bound = new BoundListeners();
        builder.Services.AddSingleton(bound);
        if (console is not null)
        {
            builder.Services.AddSingleton(new ConsoleSessions(console.SessionTtl, setup.TimeProvider));
        }

        builder.Services.AddGrpc();
        builder.Services.AddHealthAndMetrics(MeterName);
        setup.ConfigureServices?.Invoke(builder.Services);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            healthListen = kestrel.ListenHealth(options.Listen.Health.ToIPEndPoint(), ServerListener.Health);
            kestrel.Listen(options.Listen.AgentApi.ToIPEndPoint(), listen =>
            {
                agentListen = listen;
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(peerLimit.Middleware); // first: a refused connection costs no TLS handshake
                listen.Use(ListenerPipeline.Tag(ServerListener.AgentApi));
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ => ValueTask.FromResult(AgentTlsOptions(setup.AgentTls)),
                });
            });
            if (bundleEndpoint is not null)
            {
                var certificate = setup.BundleEndpointCertificate!;
                kestrel.Listen(bundleEndpoint.Listen.ToIPEndPoint(), listen =>
                {
                    bundleListen = listen;
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.Use(ListenerPipeline.Tag(ServerListener.BundleEndpoint));
                    listen.UseHttps(new TlsHandshakeCallbackOptions
                    {
                        OnConnection = _ => ValueTask.FromResult(BundleEndpointTlsOptions(certificate)),
                    });
                });
            }

            if (console is not null)
            {
                kestrel.Listen(console.Listen.ToIPEndPoint(), listen =>
                {
                    consoleListen = listen;
                    listen.Protocols = console.UsesTls ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                    listen.Use(ListenerPipeline.Tag(ServerListener.Console));
                    if (console.UsesTls)
                    {
                        var certificate = setup.ConsoleCertificate!;
                        listen.UseHttps(new TlsHandshakeCallbackOptions
                        {
                            OnConnection = _ => ValueTask.FromResult(BundleEndpointTlsOptions(certificate)),
                        });
                    }
                });
            }

            kestrel.ListenUnixSocket(socketPath, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(ListenerPipeline.AdminConnection(ServerListener.Admin, e => HostingLog.PeerCredentialsUnavailable(logger, e)));
            });
        });

        var app = builder.Build();
        try
        {
            Configure(app, options, setup, logger);
            setup.MapAgentApi?.Invoke(app.MapGroup(string.Empty).WithMetadata(new ListenerMetadata<ServerListener>(ServerListener.AgentApi)));
            setup.MapAdminApi?.Invoke(app.MapGroup(string.Empty).WithMetadata(new ListenerMetadata<ServerListener>(ServerListener.Admin)));

            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            // Kestrel creates the socket with the umask's mode; only this user may connect.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            app.Services.GetRequiredService<ServerMetrics>().Starts.Add(1);
            var agent = (IPEndPoint)agentListen!.EndPoint;
            var health = (IPEndPoint)healthListen!.EndPoint;
            var bundle = (IPEndPoint?)bundleListen?.EndPoint;
            bound.BundleEndpoint = bundle;
            if (consoleListen is not null)
            {
                var endpoint = (IPEndPoint)consoleListen.EndPoint;
                var scheme = console!.UsesTls ? "https" : "http";
                bound.ConsoleBaseUrl = ConsoleBaseUrl(scheme, console.Listen, endpoint);
                var consoleLogger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(ConsoleLog.Category);
                ConsoleLog.Started(consoleLogger, scheme, endpoint);
            }

            HostingLog.Started(logger, serverId, options.TrustDomain.Name, agent, health, socketPath);
            if (bundle is not null)
            {
                var profile = ProfileName(bundleEndpoint!.Profile);
                HostingLog.BundleEndpointStarted(logger, profile, bundle);
            }

            return new ServerHostHandle(app, logger, serverId, agent, health, socketPath, bundle);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void Configure(WebApplication app, ServerOptions options, ServerHostSetup setup, ILogger logger)
    {
        var metrics = app.Services.GetRequiredService<ServerMetrics>();

        // The console listener answers the console and nothing else; no other listener reaches it.
        if (options.Console is { } console)
        {
            var handler = new ConsoleHandler(
                app.Services.GetRequiredService<ConsoleSessions>(),
                new ConsoleApi(app.Services.GetRequiredService<AdminApiService>(), setup.TimeProvider),
                console.UsesTls,
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(ConsoleLog.Category));
            app.MapWhen(
                context => ListenerPipeline.ListenerOf<ServerListener>(context) == ServerListener.Console,
                branch => branch.Run(handler.HandleAsync));
        }

        var adminUids = options.AdminUids.ToHashSet();

        // Agent API: the whole request body within the deadline, whatever the average data rate.
        var bodyDeadline = setup.AgentRequestBodyDeadline;
        var time = setup.TimeProvider;
        app.Use((context, next) => ListenerPipeline.ListenerOf<ServerListener>(context) == ServerListener.AgentApi
            ? RequestBodyDeadline.InvokeAsync(context, next, bodyDeadline, time)
            : next(context));

        // Admin socket: every request from a uid outside adminUids is refused before routing.
        app.UseAdminUids(ServerListener.Admin, adminUids, (uid, pid) =>
        {
            metrics.AdminRefused.Add(1);
            HostingLog.AdminRefused(logger, uid, pid);
        });

        app.UseRouting();

        // Each endpoint answers on the listeners its metadata names, and nowhere else.
        app.UseListenerRouting<ServerListener>();

        app.MapHealthEndpoints(ServerListener.Health);
        app.MapGrpcHealthChecksService().WithMetadata(new ListenerMetadata<ServerListener>(ServerListener.AgentApi, ServerListener.Admin));

        if (options.Federation.BundleEndpoint is not null)
        {
            // "/" only, every method: the handler answers 405 itself, with Allow, on this listener only.
            var handler = new BundleEndpointHandler(setup.TrustBundle!, options.Bundle.RefreshHint, logger);
            app.Map("/", (RequestDelegate)handler.HandleAsync).WithMetadata(new ListenerMetadata<ServerListener>(ServerListener.BundleEndpoint));
        }
    }

    // The address a browser on this host (or, off loopback, elsewhere) opens: the real port; a wildcard becomes the host name.
    private static string ConsoleBaseUrl(string scheme, HostPort configured, IPEndPoint bound)
    {
        var port = bound.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (configured.IsLocalhost)
        {
            return $"{scheme}://localhost:{port}";
        }

        if (bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any))
        {
            return $"{scheme}://{Dns.GetHostName()}:{port}";
        }

        return bound.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"{scheme}://[{bound.Address}]:{port}"
            : $"{scheme}://{bound.Address}:{port}";
    }

    private static string ProfileName(BundleEndpointProfile profile) => profile == BundleEndpointProfile.HttpsSpiffe ? "https_spiffe" : "https_web";

    // No client certificate is asked for: anyone may fetch a bundle (SPIFFE Trust Domain and Bundle §5.2).
    private static SslServerAuthenticationOptions BundleEndpointTlsOptions(IServerCertificateProvider certificate) => new()
    {
        ServerCertificateContext = certificate.GetServerCertificate(),
        ClientCertificateRequired = false,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
        AllowTlsResume = false,
    };

    private static SslServerAuthenticationOptions AgentTlsOptions(IServerTlsProvider tls) => new()
    {
        ServerCertificateContext = tls.GetServerCertificate(),

        // Always ask; the provider decides whether a client without a certificate may continue.
        ClientCertificateRequired = true,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => tls.ValidateClientCertificate(
            certificate as X509Certificate2 ?? (certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())),
            chain,
            errors),
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        ApplicationProtocols = [SslApplicationProtocol.Http2],

        // A resumed session skips the client-certificate check: an agent whose SVID's authority
        // was revoked (or which was banned) would get back in. Every handshake is a full one.
        AllowTlsResume = false,
    };
}
