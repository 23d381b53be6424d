using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Gate.Provenance;
using Anchorage.Agent.Gate.Transport.Tunnels;
using Anchorage.Foundation.Audit;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;
using Anchorage.WorkloadApi;
using Microsoft.Extensions.Time.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 12 item 3: each tunnel stream carries an origin statement signed by the sending agent,
/// bound to the tunnel. The real acme gate's statements verify and land in the payments gate's
/// audit; an attacker holding web's SVID (a tunnel client of its own) cannot forge, replay, age
/// or sign statements with another domain's agent: each is refused and audited, while a valid
/// statement on the same fixture passes (positive control).
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateProvenanceTests
{
    [Fact]
    public async Task Provenance_GateToGate_InboundRecordCarriesVerifiedOriginAndSenderConnectionId()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);

        await using (var client = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(client, "ping"));
        }

        var sent = await pair.Outbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the outbound allow");
        var received = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the inbound allow");
        Assert.Equal(sent.ConnectionId, received.PeerConnectionId);
        Assert.Equal(pair.Outbound.Agent.Agent.Session.Svid.Id.ToString(), received.OriginAgent);
        Assert.NotNull(received.Origin);
        Assert.Equal(Environment.ProcessId, received.Origin.Pid);
        Assert.Equal(sent.Process!.Exe, received.Origin.Exe);
        Assert.Equal(sent.Process.Sha256, received.Origin.Sha256);
        Assert.Equal(sent.Process.Uid, received.Origin.Uid);
        Assert.Equal(sent.Process.StartTime, received.Origin.StartTime);
        var closed = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.ConnectionClosed, Direction: "inbound" }, "the inbound close");
        Assert.Equal(sent.ConnectionId, closed.PeerConnectionId);
        Assert.Equal(received.Origin, closed.Origin);
    }

    [Fact]
    public async Task Provenance_AgentSvidRenewedMidTraffic_LiveStreamLosesNothing_NewConnectionSignedOnANewTunnel()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);
        await using var live = await GateClients.ConnectUnixAsync(pair.Socket);
        Assert.Equal("ping", await GateClients.EchoAsync(live, "ping"));
        var first = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the first inbound allow");
        Assert.NotNull(first.Origin);
        var session = pair.Outbound.Agent.Agent.Session;
        var before = session.Svid.Leaf.SerialNumber;

        // Byte-exact traffic on the live stream the whole time.
        using var stop = new CancellationTokenSource();
        var rounds = 0;
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var payload = RandomNumberGenerator.GetBytes(4096);
                await live.WriteAsync(payload);
                var back = new byte[payload.Length];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await live.ReadExactlyAsync(back, timeout.Token);
                Assert.Equal(payload, back);
                Interlocked.Increment(ref rounds);
            }
        });
        await TwoDomains.UntilAsync(() => Volatile.Read(ref rounds) > 5, "traffic before the renewal");

        // The sending agent's own SVID (the key that signs origin statements) is renewed by the server.
        await session.RenewNowAsync(CancellationToken.None);
        Assert.NotEqual(before, session.Svid.Leaf.SerialNumber);

        // A new connection: its statement is signed with the renewed key, so it takes a new tunnel
        // whose hello sent the renewed chain, and the payments gate verifies it.
        await using (var fresh = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.Equal("new", await GateClients.EchoAsync(fresh, "new"));
        }

        var second = await pair.Inbound.Audit.WaitForAsync(
            r => r is { Kind: AuditKinds.Connection, Decision: "allow" } && r.ConnectionId != first.ConnectionId, "the second inbound allow");
        Assert.NotNull(second.Origin);
        Assert.Equal(session.Svid.Id.ToString(), second.OriginAgent);
        Assert.NotEqual(first.Remote, second.Remote);

        var counted = Volatile.Read(ref rounds);
        await TwoDomains.UntilAsync(() => Volatile.Read(ref rounds) > counted + 10, "traffic on the old tunnel after the renewal");
        await stop.CancelAsync();
        await traffic;
        Assert.DoesNotContain(pair.Outbound.Audit.Records, r => r.Kind == AuditKinds.ConnectionClosed && r.Reason is not null);
        Assert.DoesNotContain(pair.Inbound.Audit.Records, r => r is { Kind: AuditKinds.Connection, Decision: "deny" });
    }

    [Fact]
    public async Task Provenance_ForgedStatement_Refused_Audited_ValidOneOnTheSameTunnelPasses()
    {
        await using var fixture = await Fixture.StartAsync();
        await using var tunnel = await fixture.TunnelAsync(fixture.AcmeAgent);
        await fixture.AllowedAsync(tunnel, "x1", Sign(tunnel, fixture.AcmeAgent, "x1"));

        using var forger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await fixture.RefusedAsync(tunnel, "x2", Sign(tunnel, fixture.AcmeAgent, "x2", key: forger), "the origin statement's signature does not verify with the sending agent's key");

        // A valid statement with one claim changed (the process) no longer verifies either.
        var valid = Sign(tunnel, fixture.AcmeAgent, "x3").Split('.');
        var claims = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(valid[1]))
            .Replace("\"uid\":", "\"uid\":1", StringComparison.Ordinal);
        var tampered = valid[0] + "." + System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(claims)) + "." + valid[2];
        await fixture.RefusedAsync(tunnel, "x3", tampered, "the origin statement's signature does not verify with the sending agent's key");
    }

    [Fact]
    public async Task Provenance_StatementReplayedOnAnotherTunnelOrTwice_Refused_Audited()
    {
        await using var fixture = await Fixture.StartAsync();
        await using var first = await fixture.TunnelAsync(fixture.AcmeAgent);
        await using var second = await fixture.TunnelAsync(fixture.AcmeAgent);
        var statement = Sign(first, fixture.AcmeAgent, "r1");
        await fixture.AllowedAsync(first, "r1", statement);

        await fixture.RefusedAsync(second, "r1", statement, "the origin statement is bound to another tunnel");
        await fixture.RefusedAsync(first, "r1", statement, "the origin statement for connection r1 was used before on this tunnel (replayed)");
        await fixture.AllowedAsync(second, "r2", Sign(second, fixture.AcmeAgent, "r2"));
    }

    [Fact]
    public async Task Provenance_ExpiredOrMissingStatement_Refused_Audited()
    {
        await using var fixture = await Fixture.StartAsync();
        await using var tunnel = await fixture.TunnelAsync(fixture.AcmeAgent);
        await fixture.RefusedAsync(tunnel, "e1", Sign(tunnel, fixture.AcmeAgent, "e1", age: TimeSpan.FromMinutes(5)), "the origin statement is stale: signed 300 s ago (limit 30 s)");
        await fixture.RefusedAsync(tunnel, "e2", null, "the stream carries no origin statement although the tunnel negotiated provenance");
        await fixture.RefusedAsync(tunnel, "e3", Sign(tunnel, fixture.AcmeAgent, "other"), "the origin statement is for connection other, the stream is e3");
        await fixture.AllowedAsync(tunnel, "e4", Sign(tunnel, fixture.AcmeAgent, "e4", age: TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Provenance_AgentOfAnotherTrustDomain_HelloRefused_Audited_OwnDomainAgentAccepted()
    {
        await using var fixture = await Fixture.StartAsync();
        var payments = fixture.Pair.Inbound.Agent.Agent.Session.Svid;

        // Web's SVID is acme's; an agent of payments.acme.corp cannot speak for its processes.
        var refused = await Assert.ThrowsAsync<TunnelRefusedException>(() => fixture.TunnelAsync(payments));
        Assert.Equal(403, refused.Status);
        var deny = await fixture.Pair.Inbound.Audit.WaitForAsync(r => r is { Decision: "deny", Reason: GateReasons.Provenance }, "the hello's deny");
        Assert.Equal($"provenance hello: the sending agent {payments.Id} is not of the trust domain of the workload {GatePair.Web}", deny.Detail);
        Assert.Equal(GatePair.Web.ToString(), deny.PeerSpiffeId);

        await using var tunnel = await fixture.TunnelAsync(fixture.AcmeAgent);
        await fixture.AllowedAsync(tunnel, "d1", Sign(tunnel, fixture.AcmeAgent, "d1"));
    }

    [Fact]
    public async Task TunnelPool_HelloRefused_FailsFastDuringBackoff_RedialsAfterIt_AndAtOnceForAnotherAgentSvid()
    {
        await using var fixture = await Fixture.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var agent = fixture.Pair.Inbound.Agent.Agent.Session.Svid; // payments' agent: refused for acme's workload
        await using var pool = fixture.Pool(time, () => agent);
        int HelloDenies() => fixture.Pair.Inbound.Audit.Records.Count(r => r is { Decision: "deny", Reason: GateReasons.Provenance } && r.Detail!.StartsWith("provenance hello:", StringComparison.Ordinal));

        // Refused once: a dial, a handshake, a hello, an audited deny.
        var first = await Assert.ThrowsAsync<TunnelRefusedException>(() => Fixture.OpenAsync(pool, "b1"));
        Assert.Equal(403, first.Status);
        await Eventually.TrueAsync(() => HelloDenies() == 1, "the first hello's deny");

        // Within the backoff the next connection fails at once with the same status, without a dial.
        var fast = await Assert.ThrowsAsync<TunnelRefusedException>(() => Fixture.OpenAsync(pool, "b2"));
        Assert.Equal(403, fast.Status);
        Assert.Contains("not retried for another", fast.Message, StringComparison.Ordinal);

        // After the longest wait the pool dials again, and is refused again (the peer's second deny, not a third).
        time.Advance(TunnelPool.RetryMax);
        var again = await Assert.ThrowsAsync<TunnelRefusedException>(() => Fixture.OpenAsync(pool, "b3"));
        Assert.DoesNotContain("not retried", again.Message, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => HelloDenies() == 2, "the second hello's deny");
        Assert.Equal(2, HelloDenies());

        // Still within the new wait, but the agent's own SVID changed (acme's agent): dialed at once, accepted, and the stream echoes.
        agent = fixture.AcmeAgent;
        var (tunnel, stream) = (await Fixture.OpenAsync(pool, "b4"))!.Value;
        await using (stream)
        {
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        Assert.NotNull(tunnel.Binding);
        Assert.Equal(2, HelloDenies());
    }

    [Fact]
    public async Task Policy_FromOrigin_AllowsOnlyTheVerifiedBinary_DirectMtlsOfTheSameIdentityNeverMatches()
    {
        await using var fixture = await Fixture.StartAsync();
        var sha = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(GateClients.OwnExe)));
        var other = Convert.ToHexStringLower(SHA256.HashData("another binary"u8));
        fixture.Pair.Inbound.Policy.Set(OriginPolicy(sha));

        // The real gates: the caller's binary is the one the rule names.
        await using (var client = await GateClients.ConnectUnixAsync(fixture.Pair.Socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(client, "ping"));
        }

        var allowed = await fixture.Pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the origin allow");
        Assert.Equal("web-from-binary", allowed.Rule);

        // Direct mTLS with web's own SVID: no verified origin, the rule cannot match.
        await fixture.DirectAsync();
        var direct = await fixture.Pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny", Reason: GateReasons.Policy }, "the direct deny");
        Assert.Equal("default", direct.Rule);
        Assert.Null(direct.Origin);

        // Another binary named: the same caller is denied.
        fixture.Pair.Inbound.Policy.Set(OriginPolicy(other));
        await using (var client = await GateClients.ConnectUnixAsync(fixture.Pair.Socket))
        {
            Assert.True(await GateClients.ClosedAsync(client));
        }

        var denied = await fixture.Pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny", Reason: GateReasons.Policy } && r.Origin is not null, "the other-binary deny");
        Assert.Equal(sha, denied.Origin!.Sha256);
        Assert.Equal("default", denied.Rule);
    }

    private static Anchorage.Policy.CompiledPolicy OriginPolicy(string sha) =>
        Policies.Of(
            "origin-" + sha[..8],
            new Anchorage.Policy.PolicyRule(
                "web-from-binary",
                Anchorage.Policy.PolicyAction.Allow,
                new Anchorage.Policy.FromMatch(new Anchorage.Policy.IdentityPattern.Exact(GatePair.Web), [], new Anchorage.Policy.OriginMatch(sha, null, null)),
                new Anchorage.Policy.ToMatch(new Anchorage.Policy.IdentityPattern.Exact(GatePair.Api), null)));

    private static string Sign(TunnelClientConnection tunnel, X509Svid agent, string connectionId, ECDsa? key = null, TimeSpan age = default) =>
        Sign(tunnel.Binding ?? throw new InvalidOperationException("the tunnel carries no provenance"), agent, connectionId, key, age);

    private static string Sign(TunnelBinding binding, X509Svid agent, string connectionId, ECDsa? key = null, TimeSpan age = default) =>
        OriginStatement.Sign(
            new OriginClaims
            {
                ConnectionId = connectionId,
                AgentId = agent.Id.ToString(),
                Subject = GatePair.Web.ToString(),
                Pid = Environment.ProcessId,
                Exe = GateClients.OwnExe,
                Uid = 0,
                Gid = 0,
                StartTime = 1,
                IssuedAtMs = (DateTimeOffset.UtcNow - age).ToUnixTimeMilliseconds(),
                Binding = binding,
            },
            key ?? (ECDsa)agent.PrivateKey);

    /// <summary>The gate pair, and web's SVID in the hands of a tunnel client of the test's own.</summary>
    private sealed class Fixture : IAsyncDisposable
    {
        private readonly TwoDomains _domains;
        private readonly PlainEchoServer _app;
        private readonly X509Source _web;

        private Fixture(TwoDomains domains, PlainEchoServer app, GatePair pair, X509Source web)
        {
            _domains = domains;
            _app = app;
            Pair = pair;
            _web = web;
        }

        public GatePair Pair { get; }

        /// <summary>The acme agent of the outbound gate: a signer of web's trust domain.</summary>
        public X509Svid AcmeAgent => Pair.Outbound.Agent.Agent.Session.Svid;

        public static async Task<Fixture> StartAsync()
        {
            var domains = await TwoDomains.StartAsync();
            await domains.FederateBothWaysAsync();
            var app = new PlainEchoServer();
            var pair = await GatePair.StartAsync(domains, app.Port);
            var web = await domains.WorkloadAsync(AcmeTd, "/web", PaymentsTd);
            return new Fixture(domains, app, pair, web.Source);
        }

        /// <summary>A tunnel to the inbound gate as web, with the provenance hello of <paramref name="agent"/>.</summary>
        public async Task<TunnelClientConnection> TunnelAsync(X509Svid agent)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", Pair.InboundPort, timeout.Token);
            var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            var options = SpiffeTls.MtlsClient(_web, _web, Authorizer.Exact(GatePair.Api));
            options.ApplicationProtocols = [new SslApplicationProtocol(TunnelProtocol.Alpn)];
            await tls.AuthenticateAsClientAsync(options, timeout.Token);
            var peer = new PeerSnapshot(GatePair.Api, [System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData())], DateTimeOffset.UtcNow);
            var tunnel = new TunnelClientConnection(tls, socket, peer, TimeProvider.System);
            try
            {
                await tunnel.StartAsync(timeout.Token);
                await tunnel.HelloAsync("127.0.0.1:" + Pair.InboundPort.ToString(CultureInfo.InvariantCulture), agent, _web.GetX509Svid().Leaf, timeout.Token);
                return tunnel;
            }
            catch
            {
                await tunnel.DisposeAsync();
                throw;
            }
        }

        /// <summary>A tunnel pool of web's SVID to the inbound gate on <paramref name="time"/>, with <paramref name="agent"/>'s hello.</summary>
        public TunnelPool Pool(TimeProvider time, Func<X509Svid?> agent)
        {
            Assert.True(_web.TryGetX509Bundle(PaymentsTd, out var payments));
            var pool = new TunnelPool(_web.GetX509Svid(), "127.0.0.1", Pair.InboundPort, new X509SvidVerifier(time), time, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), agent);
            pool.UseBundles(Anchorage.Spiffe.Bundles.BundleSet.Empty.With(payments));
            return pool;
        }

        /// <summary>A stream of <paramref name="pool"/> for connection <paramref name="connectionId"/>, its origin signed by the tunnel's agent.</summary>
        public static async Task<(TunnelClientConnection Tunnel, TunnelStream Stream)?> OpenAsync(TunnelPool pool, string connectionId)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return await pool.OpenStreamAsync(
                connectionId,
                Authorizer.Exact(GatePair.Api),
                (agent, binding) => Sign(binding, agent, connectionId),
                timeout.Token);
        }

        /// <summary>A direct mTLS connection (no tunnel ALPN) to the inbound gate as web; returns once the gate closed it or echoed.</summary>
        public async Task DirectAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync("127.0.0.1", Pair.InboundPort, timeout.Token);
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsClientAsync(SpiffeTls.MtlsClient(_web, _web, Authorizer.Exact(GatePair.Api)), timeout.Token);
            await tls.WriteAsync("ping"u8.ToArray(), timeout.Token);
            Assert.True(await GateClients.ClosedAsync(tls));
        }

        /// <summary>A stream with <paramref name="statement"/> opens and echoes; the inbound record names its origin.</summary>
        public async Task AllowedAsync(TunnelClientConnection tunnel, string connectionId, string statement)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Assert.True(tunnel.TryReserve());
            await using var stream = await tunnel.OpenAsync("127.0.0.1:" + Pair.InboundPort.ToString(CultureInfo.InvariantCulture), connectionId, statement, timeout.Token);
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
            var allowed = await Pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" } && r.PeerConnectionId == connectionId, "the allow of " + connectionId);
            Assert.Equal(Environment.ProcessId, allowed.Origin?.Pid);
            Assert.Equal(AcmeAgent.Id.ToString(), allowed.OriginAgent);
        }

        /// <summary>A stream with <paramref name="statement"/> is refused (403) and audited as <see cref="GateReasons.Provenance"/> with <paramref name="detail"/>.</summary>
        public async Task RefusedAsync(TunnelClientConnection tunnel, string connectionId, string? statement, string detail)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            Assert.True(tunnel.TryReserve());
            var refused = await Assert.ThrowsAsync<TunnelRefusedException>(
                () => tunnel.OpenAsync("127.0.0.1:" + Pair.InboundPort.ToString(CultureInfo.InvariantCulture), connectionId, statement, timeout.Token));
            Assert.Equal(403, refused.Status);
            var deny = await Pair.Inbound.Audit.WaitForAsync(
                r => r is { Kind: AuditKinds.Connection, Decision: "deny", Reason: GateReasons.Provenance } && r.PeerConnectionId == connectionId && r.Detail == detail,
                "the provenance deny of " + connectionId + ": " + detail);
            Assert.Equal(GatePair.Web.ToString(), deny.PeerSpiffeId);
            Assert.Null(deny.Origin);
        }

        public async ValueTask DisposeAsync()
        {
            await Pair.DisposeAsync();
            await _app.DisposeAsync();
            await _domains.DisposeAsync();
        }
    }
}
