using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Cache;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate.Internal;
using Anchorage.Hosting.Audit;
using Anchorage.Policy;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.WorkloadApi.Server;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Gate;

/// <summary>
/// The gate: the agent's enforcement point. Outbound listeners attribute each accepted
/// connection to the local process that opened it (unix socket: <c>SO_PEERCRED</c> and a pidfd;
/// loopback TCP: the socket's inode in /proc/net/tcp and its owner), attest it, and dial the
/// target with mTLS presenting <em>that process's own</em> SVID; inbound listeners terminate mTLS
/// with the SVID of the process listening on the forward address. Every connection is decided by
/// the current policy and audited; live connections are re-checked when the policy or the cache
/// changes.
/// </summary>
/// <remarks>
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

    private const string Outbound = "outbound";
    private const string Inbound = "inbound";
    private const int BufferSize = 64 * 1024;

    private readonly GateOptions _options;
    private readonly GateSetup _setup;
    private readonly ILogger _logger;
    private readonly X509SvidVerifier _verifier;
    private readonly SocketOwnerIndex _owners = new();
    private readonly BundleAuditor _bundles;
    private readonly Lock _policyAudit = new();
    private string? _auditedPolicyVersion;
    private readonly ConcurrentDictionary<string, GateConnection> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly List<(Socket Socket, string? UnixPath)> _listeners = [];
    private readonly Dictionary<string, EndPoint> _endpoints = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _recheck = new();
    private long _nextId;
    private int _disposed;

    private GateHost(GateOptions options, GateSetup setup)
    {
        _options = options;
        _setup = setup;
        _logger = setup.LoggerFactory.CreateLogger(LoggerCategory);
        _verifier = new X509SvidVerifier(setup.TimeProvider);
        _bundles = new BundleAuditor(setup.Audit, setup.TimeProvider);
    }

    /// <summary>The bound address of each listener by name (port 0 resolved): an <see cref="IPEndPoint"/> or a <see cref="UnixDomainSocketEndPoint"/>.</summary>
    public IReadOnlyDictionary<string, EndPoint> Endpoints => _endpoints;

    /// <summary>How many allowed connections are open.</summary>
    public int LiveConnections => _live.Count;

    /// <summary>Binds every listener of <paramref name="options"/> and starts accepting.</summary>
    /// <exception cref="IOException">A listener cannot bind, or its unix socket is served by another process.</exception>
    public static GateHost Start(GateOptions options, GateSetup setup)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(setup);
        var host = new GateHost(options, setup);
        try
        {
            foreach (var outbound in options.Outbound)
            {
                var socket = host.Bind(outbound.Name, outbound.Listen);
                host.Track(host.AcceptLoopAsync(socket, outbound.Name, client => host.HandleOutboundAsync(client, outbound)));
            }

            foreach (var inbound in options.Inbound)
            {
                var socket = host.Bind(inbound.Name, GateListenAddress.TcpAt(inbound.Listen));
                var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                host.Track(host.AcceptLoopAsync(socket, inbound.Name, client => host.HandleInboundAsync(client, inbound, port)));
            }
        }
        catch
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        host._bundles.Observe(setup.Cache.State);
        host.AuditPolicy();
        setup.Cache.Changed += host.OnCacheChanged;
        setup.Policy.Changed += host.OnPolicyChanged;
        return host;
    }

    /// <summary>Stops accepting, closes every live connection (audited as <see cref="GateReasons.GateStopped"/>) and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _setup.Cache.Changed -= OnCacheChanged;
        _setup.Policy.Changed -= OnPolicyChanged;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var (socket, path) in _listeners)
        {
            socket.Dispose();
            if (path is not null)
            {
                TryDelete(path);
            }
        }

        foreach (var connection in _live.Values)
        {
            connection.TryClose(GateReasons.GateStopped);
        }

        try
        {
            await Task.WhenAll(_tasks.Keys).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException)
        {
            // Stopping.
        }

        _stop.Dispose();
    }

    /// <summary>Re-checks every live connection against the current policy and cache now (what a change does).</summary>
    public void Recheck()
    {
        lock (_recheck)
        {
            foreach (var connection in _live.Values)
            {
                Check(connection);
            }
        }
    }

    private void OnCacheChanged(object? sender, EventArgs e) =>
        ThreadPool.UnsafeQueueUserWorkItem(
            s =>
            {
                lock (_recheck)
                {
                    // Serialized with re-checks, so bundle records come out in publication order.
                    _bundles.Observe(s._setup.Cache.State);
                }

                s.Recheck();
            },
            this,
            preferLocal: false);

    private void OnPolicyChanged(object? sender, EventArgs e)
    {
        // Audited on the source's thread, as it raises the event: every version gets its record, even
        // when the next one follows before the queued re-check runs.
        AuditPolicy();
        ThreadPool.UnsafeQueueUserWorkItem(s => s.Recheck(), this, preferLocal: false);
    }

    // One record per policy the gate starts deciding with (issue 6 item 6: "one per policy change").
    private void AuditPolicy()
    {
        lock (_policyAudit)
        {
            var policy = _setup.Policy.Current;
            if (string.Equals(policy.Version, _auditedPolicyVersion, StringComparison.Ordinal))
            {
                return;
            }

            _auditedPolicyVersion = policy.Version;
            _setup.Audit.Write(new AuditRecord
            {
                Time = _setup.TimeProvider.GetUtcNow(),
                Kind = AuditKinds.Policy,
                Decision = "in-force",
                PolicyVersion = policy.Version,
                Detail = string.Create(CultureInfo.InvariantCulture, $"policy {policy.Name}: {policy.Rules.Count} rules"),
            });
        }
    }

    private Socket Bind(string name, GateListenAddress address)
    {
        Socket socket;
        try
        {
            if (address.UnixPath is { } path)
            {
                PrepareUnixPath(path);
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(path));

                // Attestation, not file permissions, decides who gets through.
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
                }

                _listeners.Add((socket, path));
            }
            else
            {
                var endpoint = address.Tcp!.ToIPEndPoint();
                socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(endpoint);
                _listeners.Add((socket, null));
            }

            socket.Listen(512);
        }
        catch (SocketException e)
        {
            throw new IOException($"gate listener {name} cannot listen on {address}: {e.Message}", e);
        }

        var bound = socket.LocalEndPoint!;
        _endpoints[name] = bound;
        var shown = address.UnixPath is null ? "tcp://" + bound : address.ToString();
        GateLog.Listening(_logger, name, address.UnixPath is null ? "tcp" : "unix", shown);
        return socket;
    }

    private static void PrepareUnixPath(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path))
        {
            return;
        }

        // A live socket belongs to someone else; a stale one (left by a crash) is replaced.
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }

        throw new IOException($"{path} is served by another process");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next start, which replaces stale sockets.
        }
    }

    private void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, s) => ((ConcurrentDictionary<Task, byte>)s!).TryRemove(t, out _), _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task AcceptLoopAsync(Socket listener, string name, Func<Socket, Task> handle)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                GateLog.AcceptFailed(_logger, name, e.Message);
                continue;
            }

            Track(Task.Run(() => RunAsync(client, handle)));
        }
    }

    private async Task RunAsync(Socket client, Func<Socket, Task> handle)
    {
        try
        {
            await handle(client).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            GateLog.ConnectionFailed(_logger, "-", e.GetType().Name + ": " + e.Message);
        }
        finally
        {
            client.Dispose();
        }
    }

    private string NextId() => "c" + Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);

    // ---- outbound ----

    private async Task HandleOutboundAsync(Socket client, GateOutboundOptions options)
    {
        var id = NextId();
        var started = _setup.TimeProvider.GetTimestamp();
        if (client.AddressFamily != AddressFamily.Unix)
        {
            client.NoDelay = true;
        }

        var deny = new AuditRecord
        {
            Time = default,
            Kind = AuditKinds.Connection,
            ConnectionId = id,
            Direction = Outbound,
            Listener = options.Name,
            Decision = "deny",
            Remote = options.Target.ToString(),
            PeerSpiffeId = options.Peer?.ToString(),
            PeerTrustDomain = options.Peer?.TrustDomain.Name ?? options.PeerTrustDomain?.Name,
        };

        // 1. Who is calling: the process itself, pinned by a pidfd.
        PeerProcess peer;
        try
        {
            peer = client.AddressFamily == AddressFamily.Unix
                ? PeerCredentialsReader.Read(client)
                : _owners.Locate((IPEndPoint)client.LocalEndPoint!, (IPEndPoint)client.RemoteEndPoint!);
        }
        catch (WorkloadAttestationException e)
        {
            Deny(deny, GateReasons.Unattested, e.Message);
            return;
        }

        var (local, identity) = await AttributeAsync(peer, deny).ConfigureAwait(false);
        if (local is null || identity is null)
        {
            return;
        }

        using var connectionLocal = new LocalOwner(local);
        var svid = identity.X509Svids[0];
        deny = deny with { Process = local.Audit, SpiffeId = svid.Id.ToString() };

        // 2. Exact peer: decide before dialing, so a denied caller never reaches the target.
        var policy = _setup.Policy.Current;
        PolicyDecision? decision = null;
        if (options.Peer is { } expected)
        {
            decision = policy.Decide(new PolicyRequest(svid.Id, local.SelectorSet, expected, options.Target.Port));
            if (!decision.Allowed)
            {
                Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                return;
            }
        }

        // 3. Dial with the caller's own SVID; the peer verified with the bundle of its trust domain.
        var authorizer = options.Peer is { } exact ? Authorizer.Exact(exact) : Authorizer.MemberOf(options.PeerTrustDomain!.Value);
        var check = new PeerCheck(_verifier, identity.Bundles, authorizer);
        Socket? upstream = null;
        SslStream? tls = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(_setup.HandshakeTimeout);
            upstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await upstream.ConnectAsync(options.Target.Host, options.Target.Port, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                Deny(deny with { Rule = decision?.Rule, PolicyVersion = decision?.PolicyVersion }, GateReasons.Unreachable, e is SocketException s ? s.Message : "timed out");
                return;
            }

            tls = new SslStream(new NetworkStream(upstream, ownsSocket: false), leaveInnerStreamOpen: false);
            var tlsOptions = SpiffeTls.MtlsClient(svid, identity.Bundles, authorizer, _setup.TimeProvider);
            tlsOptions.RemoteCertificateValidationCallback = check.Callback;
            var handshakeAt = _setup.TimeProvider.GetUtcNow();
            try
            {
                await tls.AuthenticateAsClientAsync(tlsOptions, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
            {
                Deny(deny with { Rule = decision?.Rule, PolicyVersion = decision?.PolicyVersion }, GateReasons.PeerVerification, check.Error ?? e.Message);
                return;
            }

            var peerId = check.PeerId;
            deny = deny with { PeerSpiffeId = peerId.ToString(), PeerTrustDomain = peerId.TrustDomain.Name, BundleSequence = SequenceOf(peerId.TrustDomain) };

            // Trust-domain peer: decided now that its ID is verified, before any byte passes.
            var request = new PolicyRequest(svid.Id, local.SelectorSet, peerId, options.Target.Port);
            if (decision is null)
            {
                policy = _setup.Policy.Current;
                decision = policy.Decide(request);
                if (!decision.Allowed)
                {
                    Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                    return;
                }
            }

            var connection = new GateConnection
            {
                Id = id,
                Direction = Outbound,
                Listener = options.Name,
                Local = connectionLocal.Take(),
                LocalId = svid.Id,
                PeerId = peerId,
                PeerChain = check.Chain!,
                HandshakeAt = handshakeAt,
                Request = request,
                Remote = options.Target.ToString(),
                StartTimestamp = started,
            };

            // The set-up deadline must not outlive the set-up: a cancelled connect or handshake token
            // can still tear down the socket it was given.
            timeout.Dispose();
            await ServeAsync(connection, deny, decision, new NetworkStream(client, ownsSocket: false), client, tls, upstream).ConfigureAwait(false);
        }
        finally
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            upstream?.Dispose();
        }
    }

    // ---- inbound ----

    private async Task HandleInboundAsync(Socket client, GateInboundOptions options, int listenPort)
    {
        var id = NextId();
        var started = _setup.TimeProvider.GetTimestamp();
        client.NoDelay = true;
        var remote = client.RemoteEndPoint?.ToString();
        var deny = new AuditRecord
        {
            Time = default,
            Kind = AuditKinds.Connection,
            ConnectionId = id,
            Direction = Inbound,
            Listener = options.Name,
            Decision = "deny",
            Remote = remote,
        };

        // 1. The local process the connection is for: the one listening on the forward address.
        PeerProcess peer;
        try
        {
            peer = _owners.LocateListener(options.Forward.ToIPEndPoint());
        }
        catch (WorkloadAttestationException e)
        {
            Deny(deny, GateReasons.NoListener, e.Message);
            return;
        }

        var (local, identity) = await AttributeAsync(peer, deny).ConfigureAwait(false);
        if (local is null || identity is null)
        {
            return;
        }

        using var connectionLocal = new LocalOwner(local);
        var svid = identity.X509Svids[0];
        deny = deny with { Process = local.Audit, SpiffeId = svid.Id.ToString() };

        // 2. Terminate mTLS with that process's SVID; the client verified with the bundle of its own trust domain.
        var check = new PeerCheck(_verifier, identity.Bundles, Authorizer.Any());
        var tls = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
        Socket? downstream = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(_setup.HandshakeTimeout);
            var tlsOptions = SpiffeTls.MtlsServer(svid, identity.Bundles, Authorizer.Any(), _setup.TimeProvider);
            tlsOptions.RemoteCertificateValidationCallback = check.Callback;
            var handshakeAt = _setup.TimeProvider.GetUtcNow();
            try
            {
                await tls.AuthenticateAsServerAsync(tlsOptions, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
            {
                Deny(deny, GateReasons.PeerVerification, check.Error ?? e.Message);
                return;
            }

            var peerId = check.PeerId;
            deny = deny with { PeerSpiffeId = peerId.ToString(), PeerTrustDomain = peerId.TrustDomain.Name, BundleSequence = SequenceOf(peerId.TrustDomain) };

            // 3. Policy: the verified client opens, the local process accepts.
            var request = new PolicyRequest(peerId, FrozenEmpty, svid.Id, listenPort);
            var decision = _setup.Policy.Current.Decide(request);
            if (!decision.Allowed)
            {
                Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Policy, null);
                return;
            }

            downstream = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await downstream.ConnectAsync(options.Forward.ToIPEndPoint(), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                Deny(deny with { Rule = decision.Rule, PolicyVersion = decision.PolicyVersion }, GateReasons.Unreachable, e is SocketException s ? s.Message : "timed out");
                return;
            }

            var connection = new GateConnection
            {
                Id = id,
                Direction = Inbound,
                Listener = options.Name,
                Local = connectionLocal.Take(),
                LocalId = svid.Id,
                PeerId = peerId,
                PeerChain = check.Chain!,
                HandshakeAt = handshakeAt,
                Request = request,
                Remote = remote ?? string.Empty,
                StartTimestamp = started,
            };

            timeout.Dispose(); // see HandleOutboundAsync
            await ServeAsync(connection, deny, decision, new NetworkStream(downstream, ownsSocket: false), downstream, tls, client).ConfigureAwait(false);
        }
        finally
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            downstream?.Dispose();
        }
    }

    private static readonly IReadOnlySet<string> FrozenEmpty = System.Collections.Frozen.FrozenSet<string>.Empty;

    // ---- shared ----

    /// <summary>Attests <paramref name="peer"/> and resolves its own identity; audits and returns nulls when it has none.</summary>
    private async Task<(LocalProcess? Local, WorkloadIdentity? Identity)> AttributeAsync(PeerProcess peer, AuditRecord deny)
    {
        WorkloadAttestation attestation;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(_setup.HandshakeTimeout);
            attestation = await _setup.Attestor.AttestAsync(peer, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WorkloadAttestationException or OperationCanceledException or IOException)
        {
            Deny(deny with { Process = LocalProcess.Unattested(peer) }, GateReasons.Unattested, e.Message);
            peer.Dispose();
            return (null, null);
        }

        var local = LocalProcess.Attested(peer, attestation);
        var identity = _setup.Cache.Resolve(local.CallerKey, local.Selectors);
        if (identity is null || identity.X509Svids.IsEmpty)
        {
            Deny(deny with { Process = local.Audit }, GateReasons.Unattested, "no registration entry matches the process");
            local.Dispose();
            return (null, null);
        }

        return (local, identity);
    }

    /// <summary>Audits the allow, registers the connection, splices both ways, audits the end.</summary>
    private async Task ServeAsync(
        GateConnection connection, AuditRecord template, PolicyDecision decision, Stream plain, Socket plainSocket, SslStream tls, Socket tlsSocket)
    {
        using (connection)
        {
            var allowed = template with
            {
                Time = _setup.TimeProvider.GetUtcNow(),
                Decision = "allow",
                Rule = decision.Rule,
                PolicyVersion = decision.PolicyVersion,
            };
            _setup.Audit.Write(allowed);
            _live[connection.Id] = connection;
            try
            {
                // A change published between the decision and the registration would miss this connection.
                Check(connection);
                await SpliceAsync(connection, plain, plainSocket, tls, tlsSocket).ConfigureAwait(false);
            }
            finally
            {
                _live.TryRemove(connection.Id, out _);
                await plain.DisposeAsync().ConfigureAwait(false);
                _setup.Audit.Write(allowed with
                {
                    Time = _setup.TimeProvider.GetUtcNow(),
                    Kind = AuditKinds.ConnectionClosed,
                    Decision = null,
                    Rule = null,
                    PolicyVersion = null,
                    Reason = connection.CloseReason,
                    BytesIn = Interlocked.Read(ref connection.BytesIn),
                    BytesOut = Interlocked.Read(ref connection.BytesOut),
                    DurationMs = _setup.TimeProvider.GetElapsedTime(connection.StartTimestamp).TotalMilliseconds,
                });
            }
        }
    }

    // Both directions until each side has finished sending; a gate close cuts both at once.
    private static async Task SpliceAsync(GateConnection connection, Stream plain, Socket plainSocket, SslStream tls, Socket tlsSocket)
    {
        var token = connection.Closing;
        var toRemote = PumpAsync(plain, tls, c => Interlocked.Add(ref connection.BytesOut, c), () => tls.ShutdownAsync(), token);
        var fromRemote = PumpAsync(tls, plain, c => Interlocked.Add(ref connection.BytesIn, c), () => ShutdownSend(plainSocket), token);
        try
        {
            await Task.WhenAll(toRemote, fromRemote).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // Closed by the gate or reset by a side: both sockets are closed below.
        }
        finally
        {
            Abort(plainSocket);
            Abort(tlsSocket);
            try
            {
                await Task.WhenAll(toRemote, fromRemote).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // Already handled.
            }
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, Action<int> count, Func<Task> finish, CancellationToken cancellationToken)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                count(read);
            }

            await finish().ConfigureAwait(false);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static Task ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        return Task.CompletedTask;
    }

    private static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        socket.Close();
    }

    private void Deny(AuditRecord record, string reason, string? detail)
    {
        _setup.Audit.Write(record with { Time = _setup.TimeProvider.GetUtcNow(), Reason = reason, Detail = detail });
        GateLog.Denied(_logger, record.Direction ?? "-", record.ConnectionId ?? "-", record.Listener ?? "-", reason, detail);
    }

    private long? SequenceOf(TrustDomain trustDomain)
    {
        var state = _setup.Cache.State;
        var bundle = state.OwnBundle?.TrustDomain == trustDomain ? state.OwnBundle : state.Federated.GetValueOrDefault(trustDomain);
        return bundle?.SequenceNumber is { } sequence ? (long)sequence : null;
    }

    /// <summary>Decides <paramref name="connection"/> again with the current policy, identity and bundles; closes it when no longer allowed.</summary>
    private void Check(GateConnection connection)
    {
        var reason = Recheck(connection);
        if (reason is null)
        {
            return;
        }

        if (!_options.CloseOnRevoke)
        {
            // Kept open as configured; said once in the audit trail.
            if (Interlocked.Exchange(ref connection.ReportedStale, 1) == 0)
            {
                _setup.Audit.Write(new AuditRecord
                {
                    Time = _setup.TimeProvider.GetUtcNow(),
                    Kind = AuditKinds.Connection,
                    ConnectionId = connection.Id,
                    Direction = connection.Direction,
                    Listener = connection.Listener,
                    Decision = "deny",
                    Reason = reason,
                    Process = connection.Local.Audit,
                    SpiffeId = connection.LocalId.ToString(),
                    PeerSpiffeId = connection.PeerId.ToString(),
                    PeerTrustDomain = connection.PeerId.TrustDomain.Name,
                    Remote = connection.Remote,
                    Detail = "kept open: closeOnRevoke is false",
                });
            }

            return;
        }

        if (connection.TryClose(reason))
        {
            GateLog.ClosedByChange(_logger, connection.Id, reason);
        }
    }

    private string? Recheck(GateConnection connection)
    {
        if (!_setup.Policy.Current.Decide(connection.Request).Allowed)
        {
            return GateReasons.PolicyChanged;
        }

        var identity = _setup.Cache.Resolve(connection.Local.CallerKey, connection.Local.Selectors);
        if (identity is null || !identity.X509Svids.Any(s => s.Id == connection.LocalId))
        {
            return GateReasons.IdentityRemoved;
        }

        try
        {
            _verifier.Verify(connection.PeerChain, identity.Bundles, connection.HandshakeAt);
            return null;
        }
        catch (BundleNotFoundException)
        {
            return GateReasons.BundleRemoved;
        }
        catch (SpiffeException)
        {
            return GateReasons.AuthorityRevoked;
        }
    }

    /// <summary>Owns a <see cref="LocalProcess"/> until a connection takes it.</summary>
    private sealed class LocalOwner(LocalProcess local) : IDisposable
    {
        private LocalProcess? _local = local;

        public LocalProcess Take()
        {
            var taken = _local ?? throw new InvalidOperationException("already taken");
            _local = null;
            return taken;
        }

        public void Dispose() => _local?.Dispose();
    }
}
