using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Foundation.Limits;
using Anchorage.Foundation.Sockets;
using Anchorage.Hosting.Health;
using Anchorage.Hosting.Lifetime;
using Anchorage.Hosting.Listeners;
using Anchorage.WorkloadApi.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Agent.Hosting;

/// <summary>
/// The agent process on Kestrel: the SPIFFE Workload API (HTTP/2 on a unix socket, mode 0777,
/// and optionally on a loopback TCP port, each caller attested by its process), the admin API
/// (HTTP/2 on a unix socket, mode 0600, callers checked by uid with <c>SO_PEERCRED</c>) and the
/// health listener (HTTP/1.1: <c>/live</c>, <c>/ready</c>, <c>/metrics</c>). gRPC health is served
/// on the Workload API and admin listeners, gRPC server reflection on the Workload API listeners.
/// </summary>
public static class AgentHost
{
    /// <summary>The name of the agent's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Anchorage.Agent";

    /// <summary>The logger category of hosting events.</summary>
    public const string LoggerCategory = "Anchorage.Agent.Hosting";

    /// <summary>The readiness reason when the readiness callback throws.</summary>
    public const string ReadinessCheckFailedReason = ReadinessProbe.FailedReason;

    private const UnixFileMode WorkloadDirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode WorkloadSocketMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const UnixFileMode AdminSocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The listen queue asked of the kernel (Kestrel's default is 512; the kernel caps it at somaxconn).</summary>
    private const int ListenBacklog = 4096;

    /// <summary>The gRPC message of a call refused by the per-uid call budget.</summary>
    public const string RateLimited = "too many workload api calls from this uid; retry later";

    /// <summary>Starts the agent host and runs it until <paramref name="cancellationToken"/> fires or the host stops itself.</summary>
    /// <exception cref="IOException">Another agent serves one of the sockets, or a listener cannot bind.</exception>
    public static async Task RunAsync(
        AgentOptions options, AgentHostSetup setup, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        var handle = await StartAsync(options, setup, loggerFactory, cancellationToken).ConfigureAwait(false);
        await DaemonHost.RunUntilStoppedAsync(handle, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts the agent host and returns once every listener is bound. Port 0 binds a free port;
    /// the handle tells which. Dispose the handle to stop.
    /// </summary>
    /// <remarks>
    /// A socket file left by an agent that died is removed (logged); the Workload API socket's
    /// directory is created with mode 0755 when missing.
    /// </remarks>
    /// <exception cref="ArgumentException">The Workload API TCP address is not a loopback address.</exception>
    /// <exception cref="IOException">
    /// Another agent serves one of the sockets (<c>another agent is serving &lt;path&gt;</c>), a
    /// socket path is taken by something else, or a listener cannot bind.
    /// </exception>
    public static async Task<AgentHostHandle> StartAsync(
        AgentOptions options, AgentHostSetup setup, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(setup);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(LoggerCategory);

        var tcp = options.WorkloadApi.Tcp?.ToIPEndPoint();
        if (tcp is not null && !IPAddress.IsLoopback(tcp.Address))
        {
            throw new ArgumentException("the workload api tcp listener must be on a loopback address", nameof(options));
        }

        var workloadSocket = options.WorkloadApi.Socket;
        var adminSocket = options.Listen.AdminSocket;
        await PrepareSocketAsync(workloadSocket, "workload api socket", WorkloadDirectoryMode, logger, cancellationToken).ConfigureAwait(false);
        await PrepareSocketAsync(adminSocket, "admin socket", null, logger, cancellationToken).ConfigureAwait(false);

        // The connection middleware is built before the container; it reads the metrics through this.
        var metricsHolder = new MetricsHolder();
        Func<AgentMetrics?> metricsFor = () => metricsHolder.Metrics;
        ListenOptions? tcpListen = null;
        ListenOptions? healthListen = null;
        // Everything comes from AgentOptions: no appsettings, environment or Kestrel config section adds listeners.
        var builder = DaemonHost.CreateBuilder(loggerFactory);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(setup.TimeProvider);
        builder.Services.AddSingleton(setup.Cache);
        builder.Services.AddSingleton(setup.Attestor);
        if (setup.Metrics is { } metrics)
        {
            builder.Services.AddSingleton(metrics);
        }
        else
        {
            builder.Services.AddSingleton<AgentMetrics>();
        }

        builder.Services.AddSingleton(sp => new ReadinessProbe(setup.Readiness, e => AgentHostingLog.ReadinessCheckFailed(logger, e)));
        if (setup.Usage is { } usage)
        {
            builder.Services.AddSingleton(usage);
        }

        builder.Services.AddSingleton<IWorkloadIdentityProvider, WorkloadIdentityProvider>();
        builder.Services.AddSingleton<WorkloadApiCallMetrics>();
        builder.Services.AddWorkloadApi(o =>
        {
            o.MaxStreamsPerCaller = options.WorkloadApi.MaxStreamsPerCaller;
            o.TimeProvider = setup.TimeProvider;
        });
        builder.Services.AddGrpc().AddServiceOptions<WorkloadApiService>(o => o.Interceptors.Add<WorkloadApiCallMetrics>());
        builder.Services.AddGrpcReflection();
        builder.Services.AddHealthAndMetrics(MeterName);
        setup.ConfigureServices?.Invoke(builder.Services);

        // The descriptor budget is charged in Kestrel's accept loop (BudgetedListenerFactory), for
        // every listener of this host; the caps are counted once a connection is dispatched.
        var connections = new ConnectionLimiter(options.WorkloadApi.MaxConnections, options.WorkloadApi.MaxConnectionsPerUid);
        var descriptors = new DescriptorBudget(setup.TimeProvider);
        builder.Services.RemoveAll<IConnectionListenerFactory>(); // the one transport: Kestrel takes any it finds
        builder.Services.AddSingleton<IConnectionListenerFactory>(sp => new BudgetedListenerFactory(
            ActivatorUtilities.CreateInstance<SocketTransportFactory>(sp), descriptors));
        builder.Services.AddSingleton(connections);
        builder.Services.AddHostedService(_ => new MemoryTrimmer(connections, setup.TimeProvider, logger));

        // A burst of callers waits in the listen queue instead of being refused (the kernel caps
        // it at net.core.somaxconn); the connection caps bound what is accepted.
        builder.Services.Configure<SocketTransportOptions>(o => o.Backlog = ListenBacklog);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // An HTTP/2 connection without an open stream for this long is closed (GOAWAY); one
            // that never sends its preface or headers is closed as well.
            kestrel.Limits.KeepAliveTimeout = options.WorkloadApi.IdleTimeout;
            kestrel.Limits.RequestHeadersTimeout = options.WorkloadApi.IdleTimeout < kestrel.Limits.RequestHeadersTimeout
                ? options.WorkloadApi.IdleTimeout
                : kestrel.Limits.RequestHeadersTimeout;
            healthListen = kestrel.ListenHealth(options.Listen.Health.ToIPEndPoint(), AgentListener.Health);
            kestrel.ListenUnixSocket(workloadSocket, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(WorkloadUnixConnection(setup.Attribution, connections, metricsFor, logger));
            });
            if (tcp is not null)
            {
                kestrel.Listen(tcp, listen =>
                {
                    tcpListen = listen;
                    listen.Protocols = HttpProtocols.Http2;
                    listen.Use(WorkloadTcpConnection(setup.Attribution, connections, metricsFor, logger));
                });
            }

            kestrel.ListenUnixSocket(adminSocket, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.Use(ListenerPipeline.AdminConnection(AgentListener.Admin, e => AgentHostingLog.AdminPeerUnavailable(logger, e)));
            });
        });

        var app = builder.Build();
        metricsHolder.Metrics = app.Services.GetRequiredService<AgentMetrics>();
        try
        {
            Configure(app, options, logger);
            setup.MapAdminApi?.Invoke(app.MapGroup(string.Empty).WithMetadata(new ListenerMetadata<AgentListener>(AgentListener.Admin)));

            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            // Kestrel creates sockets with the umask's mode. Every local user may reach the
            // Workload API (attestation decides who gets what); only this user the admin socket.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(workloadSocket, WorkloadSocketMode);
                File.SetUnixFileMode(adminSocket, AdminSocketMode);
            }

            var agentMetrics = app.Services.GetRequiredService<AgentMetrics>();
            agentMetrics.Starts.Add(1);
            var boundTcp = tcpListen is null ? null : (IPEndPoint)tcpListen.EndPoint;
            var health = (IPEndPoint)healthListen!.EndPoint;
            var tcpText = boundTcp is null ? "off" : boundTcp.ToString();
            AgentHostingLog.Started(logger, options.TrustDomain.Name, workloadSocket, tcpText, health, adminSocket);

            return new AgentHostHandle(app, logger, workloadSocket, boundTcp, health, adminSocket, agentMetrics);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task PrepareSocketAsync(string path, string label, UnixFileMode? directoryMode, ILogger logger, CancellationToken cancellationToken)
    {
        if (await UnixSocketFile.PrepareAsync(path, label, $"another agent is serving {path}", directoryMode, cancellationToken).ConfigureAwait(false))
        {
            AgentHostingLog.StaleSocketRemoved(logger, path);
        }
    }

    private static void Configure(WebApplication app, AgentOptions options, ILogger logger)
    {
        var metrics = app.Services.GetRequiredService<AgentMetrics>();
        var adminUids = options.AdminUids.ToHashSet();

        // Admin socket: every request from a uid outside adminUids is refused before routing.
        app.UseAdminUids(AgentListener.Admin, adminUids, (uid, pid) =>
        {
            metrics.AdminRefused.Add(1);
            AgentHostingLog.AdminRefused(logger, uid, pid);
        });

        // Workload API calls: a per-uid budget, spent before anything costly (attestation).
        var rate = options.WorkloadApi.RequestsPerSecondPerUid;
        var calls = new KeyedTokenBucket<uint>(app.Services.GetRequiredService<TimeProvider>(), rate, rate * 2);
        app.Use((context, next) =>
        {
            if (context.Features.Get<WorkloadPeerFeature>() is not { } caller || calls.TryTake(caller.UserId))
            {
                return next(context);
            }

            metrics.WorkloadApiRefused.Add(1, new KeyValuePair<string, object?>("reason", "rate"));
            AgentHostingLog.CallRateLimited(logger, caller.UserId, rate);
            return GrpcReply.RefuseAsync(
                context, StatusCode.Unavailable, StatusCodes.Status503ServiceUnavailable, RateLimited);
        });

        app.UseRouting();

        // Each endpoint answers on the listeners its metadata names, and nowhere else.
        app.UseListenerRouting<AgentListener>();

        app.MapHealthEndpoints(AgentListener.Health);
        var workload = new ListenerMetadata<AgentListener>(AgentListener.WorkloadApi);
        app.MapWorkloadApi().WithMetadata(workload);
        app.MapGrpcReflectionService().WithMetadata(workload);
        app.MapGrpcHealthChecksService().WithMetadata(new ListenerMetadata<AgentListener>(AgentListener.WorkloadApi, AgentListener.Admin));
    }

    // The peer is found once when it connects (kernel record or fallback checks); its pidfd is
    // closed at once and a fresh one opened per call (WorkloadPeerFeature.Pin), so an idle
    // connection holds no pidfd. The caps are checked first, on the uid SO_PEERCRED gives for
    // free: attribution can cost a scan of /proc (fallback mode), which a flood must not buy.
    private static Func<ConnectionDelegate, ConnectionDelegate> WorkloadUnixConnection(
        ConnectionAttributor attribution, ConnectionLimiter limiter, Func<AgentMetrics?> metrics, ILogger logger) => next => async connection =>
    {
        Socket socket;
        (int ProcessId, uint UserId, uint GroupId) credentials;
        try
        {
            socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket
                ?? throw new InvalidOperationException("the workload api connection exposes no socket");
            credentials = Attestation.PeerCredentialsReader.ReadCredentials(socket);
        }
        catch (Exception e) when (e is Attestation.WorkloadAttestationException or SocketException or ObjectDisposedException)
        {
            AgentHostingLog.UnixPeerNotFound(logger, e.Message);
            await ServeWorkloadConnectionAsync(next, connection, WorkloadPeerFeature.UnknownUid, 0, () => WorkloadPeerFeature.NotFound(e.Message), limiter, metrics, logger).ConfigureAwait(false);
            return;
        }

        await ServeWorkloadConnectionAsync(next, connection, credentials.UserId, credentials.ProcessId, () =>
        {
            try
            {
                return WorkloadPeerFeature.Found(attribution.AttributeUnix(socket));
            }
            catch (Exception e) when (e is Attestation.WorkloadAttestationException or SocketException or ObjectDisposedException)
            {
                AgentHostingLog.UnixPeerNotFound(logger, e.Message);
                return WorkloadPeerFeature.NotFound(e.Message);
            }
        }, limiter, metrics, logger).ConfigureAwait(false);
    };

    private static Func<ConnectionDelegate, ConnectionDelegate> WorkloadTcpConnection(
        ConnectionAttributor attribution, ConnectionLimiter limiter, Func<AgentMetrics?> metrics, ILogger logger) => next => async connection =>
    {
        WorkloadPeerFeature peer;
        if (connection.LocalEndPoint is IPEndPoint local && connection.RemoteEndPoint is IPEndPoint remote)
        {
            try
            {
                peer = WorkloadPeerFeature.Found(attribution.AttributeTcp(local, remote));
            }
            catch (Attestation.WorkloadAttestationException e)
            {
                AgentHostingLog.TcpPeerNotFound(logger, remote, e.Message);
                peer = WorkloadPeerFeature.NotFound(e.Message);
            }
        }
        else
        {
            peer = WorkloadPeerFeature.NotFound("the connection has no ip endpoints");
        }

        // Over TCP the uid is only known once the peer is found (kernel record or socket table).
        await ServeWorkloadConnectionAsync(next, connection, peer.UserId, peer.ProcessId, () => peer, limiter, metrics, logger).ConfigureAwait(false);
    };

    // Over a cap the connection is closed before HTTP/2 starts and before the peer is attributed:
    // it costs nothing more, and the client's gRPC stack reports Unavailable (retryable), never
    // PermissionDenied.
    private static async Task ServeWorkloadConnectionAsync(
        ConnectionDelegate next, ConnectionContext connection, uint userId, int processId, Func<WorkloadPeerFeature> findPeer,
        ConnectionLimiter limiter, Func<AgentMetrics?> metrics, ILogger logger)
    {
        using var slot = limiter.TryAcquire(userId, out var refusal);
        if (slot is null)
        {
            metrics()?.WorkloadApiRefused.Add(1, new KeyValuePair<string, object?>("reason", "connections"));
            AgentHostingLog.ConnectionRefused(logger, userId, processId, refusal!);
            connection.Abort(new ConnectionAbortedException(refusal!));
            return;
        }

        connection.Features.Set(new ListenerFeature<AgentListener>(AgentListener.WorkloadApi));
        connection.Features.Set(findPeer());
        await next(connection).ConfigureAwait(false);
    }

    private sealed class MetricsHolder
    {
        public AgentMetrics? Metrics { get; set; }
    }
}
