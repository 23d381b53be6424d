using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Attribution;
using Anchorage.Agent.Gate.Auditing;
using Anchorage.Agent.Gate.Connections;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Agent.Gate.Listeners;
using Anchorage.Agent.Gate.Pipelines;
using Anchorage.Agent.Gate.Transport;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Agent.Hosting.Internal;
using Anchorage.Agent.Kernel;
using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate;

/// <summary>
/// The gate: the agent's enforcement point. Outbound listeners attribute each accepted
/// connection to the local process that opened it (unix socket: <c>SO_PEERCRED</c> and a pidfd;
/// loopback TCP: the socket's inode from sock_diag and its owner), attest it, and dial the
/// target with mTLS presenting <em>that process's own</em> SVID; inbound listeners terminate mTLS
/// with the SVID of the process listening on the forward address. Every connection is decided by
/// the current policy and audited; live connections are re-checked when the policy or the cache
/// changes.
/// </summary>
/// <remarks>
/// <para>
/// Parts. <see cref="GateHost"/> only builds, starts and stops them: <see cref="GateListener"/>
/// (bind, accept), <see cref="IConnectionAttributor"/> and <see cref="ConnectionAttribution"/>
/// (the local process found, pinned, attested, its identity resolved), <see cref="OutboundPipeline"/>
/// and <see cref="InboundPipeline"/> (the decisions), <see cref="IGateTransport"/> (direct mTLS),
/// <see cref="ConnectionServer"/> and <see cref="Splicing.StreamSplicer"/> (the bytes),
/// <see cref="LiveConnectionRegistry"/> (re-checks on change) and <see cref="GateAudit"/> (the records).
/// </para>
/// <para>
/// Decisions. Outbound with a configured <c>peer</c>: the policy is decided before dialing
/// (From = the caller's SPIFFE ID and selectors, To = the configured peer, Port = the target
/// port), so a denied caller never reaches the target. Outbound with <c>peerTrustDomain</c>: the
/// peer's ID is known only once its SVID verified, so the policy is decided right after the
/// handshake and a denied connection is closed before any application byte passes. Inbound:
/// From = the verified client ID (no selectors), To = the local process's ID, Port = the port the
/// listener is bound to.
/// </para>
/// <para>
/// Trust. The peer's chain is verified with the bundle of the peer's own trust domain, taken from
/// the bundles the local process may see (its own trust domain and the domains its entries
/// federate with); a foreign domain without such a bundle is refused.
/// </para>
/// <para>
/// Changes. Every new connection resolves the process's identity, bundles and the policy at that
/// moment. When the policy or the cache changes, each live connection is decided again and its
/// peer's chain verified again (at its handshake time, so a peer's certificate ageing out does not
/// count) with the bundles the process sees now; with <see cref="GateOptions.CloseOnRevoke"/> the
/// ones no longer allowed are closed and audited (<see cref="GateReasons.PolicyChanged"/>,
/// <see cref="GateReasons.BundleRemoved"/>, <see cref="GateReasons.AuthorityRevoked"/>). An SVID
/// rotation changes neither, so it never closes a connection.
/// </para>
/// </remarks>
public sealed class GateHost : IAsyncDisposable
{
    /// <summary>The logger category.</summary>
    public const string LoggerCategory = "Anchorage.Agent.Gate";

    private readonly List<GateListener> _listeners;
    private readonly Dictionary<string, EndPoint> _endpoints = new(StringComparer.Ordinal);
    private readonly LiveConnectionRegistry _registry;
    private readonly CancellationTokenSource _stop;
    private TransparentRedirect? _redirect;
    private InboundSteering? _steering;
    private GateAdmission? _admission;
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly IGateTransport _transport;
    private int _disposed;

    private GateHost(List<GateListener> listeners, LiveConnectionRegistry registry, CancellationTokenSource stop, IGateTransport transport)
    {
        _transport = transport;
        _listeners = listeners;
        _registry = registry;
        _stop = stop;
        foreach (var listener in listeners)
        {
            _endpoints[listener.Name] = listener.Endpoint;
        }
    }

    /// <summary>The bound address of each listener by name (port 0 resolved): an <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>.</summary>
    public IReadOnlyDictionary<string, EndPoint> Endpoints => _endpoints;

    /// <summary>How many allowed connections are open.</summary>
    public int LiveConnections => _registry.Count;

    /// <summary>How many accepted connections hold a slot of the caps (set-up, live or closing).</summary>
    public int OpenConnections => _admission?.Open ?? 0;

    /// <summary>Binds every listener of <paramref name="options"/> and starts accepting.</summary>
    /// <exception cref="IOException">A listener cannot bind, or its unix socket is served by another process.</exception>
    public static GateHost Start(GateOptions options, GateSetup setup)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(setup);
        var logger = setup.LoggerFactory.CreateLogger(LoggerCategory);

        // Every listener is bound before any starts accepting, so a failed bind has nothing to stop but sockets.
        var listeners = new List<GateListener>();
        TransparentRedirect? redirect = null;
        GateListener? transparent6 = null;
        GateListener? steering6 = null;
        InboundSteering? steering = null;
        try
        {
            foreach (var outbound in options.Outbound)
            {
                listeners.Add(GateListener.Bind(outbound.Name, outbound.Listen, logger));
            }

            foreach (var inbound in options.Inbound)
            {
                listeners.Add(GateListener.Bind(inbound.Name, GateListenAddress.TcpAt(inbound.Listen), logger));
            }

            if (options.Transparent is { Destinations.Count: > 0 } transparentOptions)
            {
                var listener = GateListener.Bind(TransparentPipeline.ListenerName, GateListenAddress.TcpAt(transparentOptions.Listen), logger);
                listeners.Add(listener);
                var port = ((IPEndPoint)listener.Endpoint).Port;
                transparent6 = BindLoopback6(TransparentPipeline.ListenerName, port, "IPv6 destinations go to the IPv4 listener and IPV6_V6ONLY clients are refused", logger);
                if (transparent6 is not null)
                {
                    listeners.Add(transparent6);
                }

                redirect = LoadRedirect(transparentOptions, (IPEndPoint)listener.Endpoint, transparent6 is not null, setup);
            }

            if (options.Transparent is { Inbound.Count: > 0 } steered)
            {
                // Any free loopback port: the program finds the listener by its socket, not its address.
                var listener = GateListener.Bind(SteeringPipeline.ListenerName, GateListenAddress.TcpAt(new HostPort("127.0.0.1", 0)), logger);
                listeners.Add(listener);
                steering6 = BindLoopback6(SteeringPipeline.ListenerName, 0, "IPv6 connections to steered ports are not steered (dropped in closed mode)", logger);
                if (steering6 is not null)
                {
                    listeners.Add(steering6);
                }

                steering = LoadSteering(steered, listener, steering6, setup);
            }
        }
        catch
        {
            redirect?.Dispose();
            listeners.ForEach(l => l.Dispose());
            throw;
        }

        var verifier = new X509SvidVerifier(setup.TimeProvider);
        var audit = new GateAudit(setup.Audit, setup.TimeProvider, logger);
        var registry = new LiveConnectionRegistry(setup.Cache, setup.Policy, verifier, audit, options.CloseOnRevoke, logger, setup.TimeProvider)
        {
            IdleTimeout = options.IdleTimeout,
        };

        // Inbound listeners always accept tunnels (a client that does not offer the ALPN id gets
        // direct mTLS); outbound ones offer them with gate.tunnels.
        var direct = new DirectTransport(verifier, setup.TimeProvider, acceptTunnels: true);
        // Pools are made on first use: a gate whose listeners never tunnel holds none.
        var agentSvid = setup.AgentSvid ?? (static () => null);
        var transport = new TunnelTransport(direct, verifier, setup.TimeProvider, options.TunnelIdleTimeout, setup.HandshakeTimeout, agentSvid);
        var tunnels = new TunnelServer(setup.TimeProvider);
        var parts = new PipelineParts
        {
            Setup = setup,
            Audit = audit,
            Attribution = new ConnectionAttribution(new SocketAttributor(setup.Attribution), setup.Attestor, setup.Cache, audit, setup.HandshakeTimeout),
            Transport = direct,
            Verifier = verifier,
            TunnelTransport = transport,
            TunnelsByDefault = options.Tunnels,
            Tunnels = tunnels,
            Server = new ConnectionServer(registry, audit),
        };
        var admission = new GateAdmission(
            new ConnectionLimiter(options.MaxConnections, options.MaxConnectionsPerUid, "gate", new DescriptorBudget(setup.TimeProvider)), audit, parts.NextId);
        var time = setup.TimeProvider;
        var outboundPipeline = new OutboundPipeline(parts);
        var inboundPipeline = new InboundPipeline(parts);
        var host = new GateHost(listeners, registry, new CancellationTokenSource(), transport)
        {
            _redirect = redirect,
            _steering = steering,
            _admission = admission,
        };
        var stop = host._stop.Token;
        var next = 0;
        foreach (var outbound in options.Outbound)
        {
            host.Track(listeners[next++].AcceptAsync(
                client => outboundPipeline.HandleAsync(client, outbound, stop), host.Track, admission, OutboundPipeline.Direction, time, stop));
        }

        foreach (var inbound in options.Inbound)
        {
            var listener = listeners[next++];
            var port = ((IPEndPoint)listener.Endpoint).Port;
            host.Track(listener.AcceptAsync(
                client => inboundPipeline.HandleAsync(client, inbound, port, stop), host.Track, admission, InboundPipeline.Direction, time, stop));
        }

        if (redirect is not null)
        {
            var transparent = new TransparentPipeline(parts, outboundPipeline, redirect, options.Transparent!.Listen);
            host.Track(listeners[next++].AcceptAsync(
                client => transparent.HandleAsync(client, stop), host.Track, admission, OutboundPipeline.Direction, time, stop));
            if (transparent6 is not null)
            {
                host.Track(listeners[next++].AcceptAsync(
                    client => transparent.HandleAsync(client, stop), host.Track, admission, OutboundPipeline.Direction, time, stop));
            }
        }

        if (steering is not null)
        {
            var steeredPipeline = new SteeringPipeline(parts, inboundPipeline, steering, options.Transparent!.Inbound);
            host.Track(listeners[next++].AcceptAsync(
                client => steeredPipeline.HandleAsync(client, stop), host.Track, admission, InboundPipeline.Direction, time, stop));
            if (steering6 is not null)
            {
                host.Track(listeners[next++].AcceptAsync(
                    client => steeredPipeline.HandleAsync(client, stop), host.Track, admission, InboundPipeline.Direction, time, stop));
            }
        }

        registry.StartWatching();
        return host;
    }

    /// <summary>Stops accepting, closes every live connection (audited as <see cref="GateReasons.GateStopped"/>) and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _registry.StopWatching();
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        _registry.CloseAll(GateReasons.GateStopped);
        try
        {
            await Task.WhenAll(_tasks.Keys).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // Stopping.
        }

        _redirect?.Dispose();
        _steering?.Dispose();
        if (_transport is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
        _stop.Dispose();
    }

    /// <summary>Re-checks every live connection against the current policy and cache now (what a change does).</summary>
    public void Recheck() => _registry.Recheck();

    // The IPv6 twin of a loopback listener: transparent interception redirects IPv6 destinations
    // to [::1] at its listener's port (reachable from IPV6_V6ONLY sockets too), and steering hands
    // IPv6 connections to an IPv6 socket (sk_lookup assigns a socket of the lookup's family). A
    // host without IPv6 loopback (or with the port taken there) gets none, said once
    // (`consequence`); nothing is then sent around the gate.
    private static GateListener? BindLoopback6(string name, int port, string consequence, ILogger logger)
    {
        try
        {
            return GateListener.Bind(name, GateListenAddress.TcpAt(new HostPort(IPAddress.IPv6Loopback.ToString(), port)), logger);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            GateLog.NoIPv6Listener(logger, name, port, e.Message, consequence);
            return null;
        }
    }

    // Interception was asked for: without the programs the gate does not start (nothing would be intercepted, silently).
    private static TransparentRedirect LoadRedirect(GateTransparentOptions options, IPEndPoint listener, bool listen6, GateSetup setup)
    {
        try
        {
            return TransparentRedirect.Load(setup.TransparentObjectPath ?? TransparentRedirect.DefaultObjectPath, options, listener, listen6, Environment.ProcessId);
        }
        catch (KernelAttributionException e)
        {
            throw new IOException("gate.transparent: " + e.Message, e);
        }
    }

    // Steering was asked for: without the program the gate does not start (the service would be reached unverified, silently).
    private static InboundSteering LoadSteering(GateTransparentOptions options, GateListener listener, GateListener? listener6, GateSetup setup)
    {
        var objectPath = setup.TransparentObjectPath is { } transparentObject
            ? Path.Combine(Path.GetDirectoryName(transparentObject) ?? ".", InboundSteering.ObjectFileName)
            : InboundSteering.DefaultObjectPath;
        try
        {
            return InboundSteering.Load(objectPath, options.Inbound, listener.Socket, listener6?.Socket, options.FailMode, options.PinDirectory);
        }
        catch (KernelAttributionException e)
        {
            throw new IOException("gate.transparent.inbound: " + e.Message, e);
        }
    }

    private void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
