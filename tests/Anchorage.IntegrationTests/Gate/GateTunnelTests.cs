using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 12 item 2: gate-to-gate tunnels. An acme gate with <c>gate.tunnels</c> dials a payments
/// gate's inbound listener; each application connection is one HTTP/2 extended CONNECT stream of
/// one pooled mTLS connection. The inbound gate sees every stream from the same tunnel socket
/// (the audit's remote address), decides and audits each stream on its own.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateTunnelTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Tunnel_ManyConcurrentStreams_ByteExactEcho_OverOneTunnel_OneAuditRecordEach()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);

        // Warm: the first stream opens the tunnel.
        await using (var first = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            try
            {
                Assert.Equal("warm", await GateClients.EchoAsync(first, "warm"));
            }
            catch (OperationCanceledException)
            {
                Assert.Fail("no echo; audit:\n" + string.Join("\n", pair.Outbound.Audit.Records.Concat(pair.Inbound.Audit.Records).Select(r => $"{r.Direction} {r.Kind} {r.ConnectionId} {r.Decision} {r.Reason} {r.Detail}")));
            }
        }

        const int Streams = 32;
        var payloads = Enumerable.Range(0, Streams).Select(_ => RandomNumberGenerator.GetBytes(64 * 1024)).ToArray();
        await Task.WhenAll(payloads.Select(async payload =>
        {
            await using var stream = await GateClients.ConnectUnixAsync(pair.Socket);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var write = stream.WriteAsync(payload, timeout.Token).AsTask();
            var back = new byte[payload.Length];
            await stream.ReadExactlyAsync(back, timeout.Token);
            await write;
            Assert.Equal(payload, back);
        }));

        await TwoDomains.UntilAsync(() => Closes(pair.Inbound, "inbound") == Streams + 1 && Closes(pair.Outbound, "outbound") == Streams + 1, "every close audited");
        var inbound = pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Direction: "inbound" }).ToList();
        Assert.Equal(Streams + 1, inbound.Count);
        Assert.Single(inbound.Select(r => r.Remote).Distinct()); // one tunnel carried every stream
        Assert.All(inbound, r => Assert.Equal(Web.ToString(), r.PeerSpiffeId));
        Assert.Equal(Streams + 1, app.Accepted);
        var closes = pair.Outbound.Audit.Records.Where(r => r is { Kind: AuditKinds.ConnectionClosed, Direction: "outbound" }).ToList();
        Assert.All(closes.Skip(1), r => Assert.Equal(64 * 1024, r.BytesOut));
    }

    [Fact]
    public async Task Tunnel_PolicyNarrowedOnTheInboundGate_ClosesItsStreamOnly_TheTunnelCarriesTheNextStream()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);

        await using var live = await GateClients.ConnectUnixAsync(pair.Socket);
        Assert.Equal("ping", await GateClients.EchoAsync(live, "ping"));

        // The inbound gate's policy no longer allows acme: the live stream is closed and audited there.
        pair.Inbound.Policy.Set(Policies.Of("v2"));
        Assert.True(await GateClients.ClosedAsync(live));
        var closed = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.ConnectionClosed, Direction: "inbound" }, "the inbound close");
        Assert.Equal(GateReasons.PolicyChanged, closed.Reason);

        // A new stream while denied: refused by the inbound gate, audited on both sides.
        await using (var denied = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.True(await GateClients.ClosedAsync(denied));
        }

        var refused = await pair.Outbound.Audit.WaitForAsync(r => r is { Decision: "deny", Direction: "outbound" }, "the outbound refusal");
        Assert.Equal(GateReasons.PeerRefused, refused.Reason);
        var inboundDeny = await pair.Inbound.Audit.WaitForAsync(r => r is { Decision: "deny", Direction: "inbound" }, "the inbound deny");
        Assert.Equal(GateReasons.Policy, inboundDeny.Reason);

        // Allowed again: the same tunnel carries the next stream.
        pair.Inbound.Policy.Set(Policies.Of("v3", Policies.Allow("web-to-api", Web, Api)));
        await using (var again = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.Equal("pong", await GateClients.EchoAsync(again, "pong"));
        }

        var allows = pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Direction: "inbound" }).ToList();
        Assert.Equal(2, allows.Count);
        Assert.Single(allows.Select(r => r.Remote).Distinct());
    }

    [Fact]
    public async Task Tunnel_PolicyRevokedForOneListener_ClosesOnlyThatTunnelsStream_TheOtherTunnelFlows()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        var inboundPolicy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var inbound = await GateNode.StartAsync(
            domains,
            PaymentsTd,
            [new GateEntry("/api", [Uid, "unix:path:" + GateClients.OwnExe], AcmeTd)],
            _ => new GateOptions
            {
                Inbound =
                [
                    new GateInboundOptions { Name = "api", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", app.Port) },
                    new GateInboundOptions { Name = "api2", Listen = new HostPort("127.0.0.1", 0), Forward = new HostPort("127.0.0.1", app.Port) },
                ],
            },
            inboundPolicy);
        var first = ((IPEndPoint)inbound.Gate.Endpoints["api"]).Port;
        var second = ((IPEndPoint)inbound.Gate.Endpoints["api2"]).Port;
        string socketA = null!, socketB = null!;
        await using var outbound = await GateNode.StartAsync(
            domains,
            AcmeTd,
            [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)],
            dir => new GateOptions
            {
                Outbound =
                [
                    new GateOutboundOptions { Name = "a", Listen = GateListenAddress.Unix(socketA = GateNode.SocketPath(dir, "a")), Target = new HostPort("127.0.0.1", first), Peer = Api, Tunnels = true },
                    new GateOutboundOptions { Name = "b", Listen = GateListenAddress.Unix(socketB = GateNode.SocketPath(dir, "b")), Target = new HostPort("127.0.0.1", second), Peer = Api, Tunnels = true },
                ],
            },
            new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api))));
        await using var a = await GateClients.ConnectUnixAsync(socketA);
        await using var b = await GateClients.ConnectUnixAsync(socketB);
        Assert.Equal("a", await GateClients.EchoAsync(a, "a"));
        Assert.Equal("b", await GateClients.EchoAsync(b, "b"));

        // The inbound gate now allows web only on the second listener: the first tunnel's stream is cut.
        inboundPolicy.Set(Policies.Of("v2", Policies.Allow("web-to-api2", Web, Api, second)));
        Assert.True(await GateClients.ClosedAsync(a));
        var closed = await inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.ConnectionClosed, Listener: "api" }, "the close on api");
        Assert.Equal(GateReasons.PolicyChanged, closed.Reason);

        // Positive control: the other tunnel's stream still carries bytes, and was not closed.
        Assert.Equal("still", await GateClients.EchoAsync(b, "still"));
        Assert.DoesNotContain(inbound.Audit.Records, r => r is { Kind: AuditKinds.ConnectionClosed, Listener: "api2" });
        var remotes = inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }).Select(r => r.Remote).Distinct().ToList();
        Assert.Equal(2, remotes.Count); // two tunnels
    }

    [Fact]
    public async Task Tunnel_PeerIsNotAnAnchorageGate_DirectMtlsUnchanged()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)], dir => new GateOptions
        {
            Tunnels = true,
            Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
        }, policy);

        for (var i = 0; i < 2; i++)
        {
            await using var stream = await GateClients.ConnectUnixAsync(socket);
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        // The first dial asked for a tunnel (one extra handshake), the second went direct at once.
        Assert.Equal(3, remote.Accepted);
        Assert.All(remote.Peers, peer => Assert.Equal(Web, peer));
    }

    [Fact]
    public async Task Tunnel_CallerHalfCloses_ServiceAnswersAfterEof_ByteExact()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new ReplyAfterEofServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);

        // Each caller sends, shuts its sending side and only then gets the answer: the half-close
        // must cross the tunnel as END_STREAM while the stream stays open the other way.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            var payload = RandomNumberGenerator.GetBytes(100_000 + i);
            await using var stream = (NetworkStream)await GateClients.ConnectUnixAsync(pair.Socket);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await stream.WriteAsync(payload, timeout.Token);
            stream.Socket.Shutdown(SocketShutdown.Send);
            var back = new MemoryStream();
            await stream.CopyToAsync(back, timeout.Token);
            Assert.Equal(payload, back.ToArray());
        }));

        await TwoDomains.UntilAsync(() => Closes(pair.Outbound, "outbound") == 8, "every close audited");
        Assert.Single(pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }).Select(r => r.Remote).Distinct());
    }

    [Fact]
    public async Task Tunnel_SlowReader_DoesNotStallOtherStreams()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);

        // A caller that writes 64 MiB and never reads: its echo fills the windows of its stream only.
        var stalled = await GateClients.ConnectUnixAsync(pair.Socket);
        using var stop = new CancellationTokenSource();
        long flooded = 0;
        var flood = Task.Run(async () =>
        {
            var chunk = new byte[64 * 1024];
            for (var i = 0; i < 1024; i++)
            {
                await stalled.WriteAsync(chunk, stop.Token);
                Interlocked.Add(ref flooded, chunk.Length);
            }
        });
        await TwoDomains.UntilAsync(() => pair.Outbound.Audit.Records.Any(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }), "the stalled stream allowed");

        // Every buffer on the stalled path is full (both gates' stream windows, the sockets): the flood stopped moving.
        await UntilQuietAsync(() => Interlocked.Read(ref flooded), "the flood held back by flow control");
        Assert.False(flood.IsCompleted, "the flood should be held back by flow control");

        // Other streams of the same tunnel go on: each echoes 1 MiB (more than the stalled stream can
        // hold of any connection window) byte-exactly, concurrently, within a deadline.
        var payloads = Enumerable.Range(0, 4).Select(_ => RandomNumberGenerator.GetBytes(1024 * 1024)).ToArray();
        var results = await Task.WhenAll(payloads.Select(async (payload, i) =>
        {
            await using var other = await GateClients.ConnectUnixAsync(pair.Socket);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var write = other.WriteAsync(payload, deadline.Token).AsTask();
            var back = new byte[payload.Length];
            var read = 0;
            try
            {
                while (read < back.Length)
                {
                    var n = await other.ReadAsync(back.AsMemory(read), deadline.Token);
                    Assert.True(n > 0, $"stream {i} closed after {read} of {back.Length} bytes");
                    read += n;
                }

                await write;
            }
            catch (OperationCanceledException)
            {
                return $"stream {i} stalled behind the slow reader: {read} of {back.Length} bytes echoed in 20 s";
            }

            return payload.AsSpan().SequenceEqual(back) ? null : $"stream {i}: the echo differs";
        }));
        var failures = results.Where(r => r is not null).ToArray();
        Assert.True(failures.Length == 0, string.Join("; ", failures));

        Assert.False(flood.IsCompleted, "the flood should still be held back by flow control");
        Assert.Single(pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }).Select(r => r.Remote).Distinct());
        await stop.CancelAsync();
        await stalled.DisposeAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => flood);
    }

    // Callers that drop their connection mid-transfer: the outbound gate resets their streams while
    // their DATA is still queued. Nothing of a reset stream may follow its RST_STREAM (the inbound
    // side answers a DATA frame after it with a connection error, which ended every other stream of
    // the tunnel: found by bench/gate.sh, whose load generator drops its streams this way).
    [Fact]
    public async Task Tunnel_CallersDropMidTransfer_OnlyTheirStreamsEnd_TheTunnelAndItsOtherStreamsGoOn()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);
        await using var survivor = await GateClients.ConnectUnixAsync(pair.Socket);
        Assert.Equal("before", await GateClients.EchoAsync(survivor, "before"));

        for (var round = 0; round < 16; round++)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
            {
                var dropped = await GateClients.ConnectUnixAsync(pair.Socket);
                using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var chunk = RandomNumberGenerator.GetBytes(64 * 1024);
                var writer = Task.Run(async () =>
                {
                    while (true)
                    {
                        await dropped.WriteAsync(chunk, deadline.Token);
                    }
                });

                // Drop the connection while both directions are busy: unread echo pending, writes under way.
                var sink = new byte[64 * 1024];
                var read = 0L;
                while (read < 512 * 1024)
                {
                    var n = await dropped.ReadAsync(sink, deadline.Token);
                    Assert.True(n > 0, $"the stream closed after {read} bytes, before the caller dropped it");
                    read += n;
                }

                await dropped.DisposeAsync();
                await Assert.ThrowsAnyAsync<Exception>(() => writer);
            }));
        }

        // Positive control on the same tunnel: the stream opened first still echoes byte-exactly, and
        // so does a new one; every stream, dropped or not, went over the one tunnel.
        var payload = RandomNumberGenerator.GetBytes(256 * 1024);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            var write = survivor.WriteAsync(payload, timeout.Token).AsTask();
            var back = new byte[payload.Length];
            await survivor.ReadExactlyAsync(back, timeout.Token);
            await write;
            Assert.Equal(payload, back);
        }

        await using (var after = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.Equal("after", await GateClients.EchoAsync(after, "after"));
        }

        var inbound = pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Direction: "inbound" }).ToList();
        Assert.Equal(1 + (16 * 8) + 1, inbound.Count);
        Assert.Single(inbound.Select(r => r.Remote).Distinct());
        Assert.DoesNotContain(pair.Outbound.Audit.Records, r => r.Decision == "deny");
    }

    /// <summary>Waits (60 s bound) until <paramref name="progress"/> has not changed for a second.</summary>
    private static async Task UntilQuietAsync(Func<long> progress, string what)
    {
        // The shared poll with a deadline; quiet = no progress for a second.
        var last = progress();
        var since = Stopwatch.StartNew();
        await Eventually.TrueAsync(
            () =>
            {
                var now = progress();
                if (now != last)
                {
                    (last, since) = (now, Stopwatch.StartNew());
                }

                return since.Elapsed >= TimeSpan.FromSeconds(1);
            },
            what,
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Tunnel_PeerGateStopsMidStream_StreamClosedAndAudited_NextConnectionOpensANewTunnel()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        var pair = await GatePair.StartAsync(domains, app.Port);
        try
        {
            await using var live = await GateClients.ConnectUnixAsync(pair.Socket);
            Assert.Equal("ping", await GateClients.EchoAsync(live, "ping"));

            await pair.Inbound.DisposeAsync();
            Assert.True(await GateClients.ClosedAsync(live));
            var closed = await pair.Outbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.ConnectionClosed, Direction: "outbound" }, "the outbound close");
            Assert.Equal(4, closed.BytesOut);

            // Nothing listens now: the next connection is refused as unreachable, the gate stays up.
            await using (var next = await GateClients.ConnectUnixAsync(pair.Socket))
            {
                Assert.True(await GateClients.ClosedAsync(next));
            }

            var deny = await pair.Outbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the unreachable deny");
            Assert.Equal(GateReasons.Unreachable, deny.Reason);
        }
        finally
        {
            await pair.Outbound.DisposeAsync();
        }
    }

    // Node's http2 (nghttp2) as an independent client of the gate's own HTTP/2 server: a plain GET
    // refused on its stream alone, then three concurrent streams whose header blocks use nghttp2's
    // Huffman coding and dynamic table (RFC 7541), each echoed byte-exact and audited.
    [Fact]
    public async Task Tunnel_NodeHttp2Client_ExtendedConnect_ByteExactEchoAndAudited()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new ReplyAfterEofServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);
        var web = await domains.WorkloadAsync(AcmeTd, "/web", PaymentsTd);
        var svid = web.Source.GetX509Svid();
        var cert = Path.Combine(pair.Inbound.Dir.Path, "node-cert.pem");
        var key = Path.Combine(pair.Inbound.Dir.Path, "node-key.pem");
        await File.WriteAllTextAsync(cert, svid.ToPem());
        await File.WriteAllTextAsync(key, svid.KeyToPem());
        var payload = RandomNumberGenerator.GetBytes(50_000);
        var script = Path.Combine(Processes.RepoRoot(), "tests", "interop", "node", "tunnel-client.mjs");

        var output = await Task.Run(() => Processes.Run(
            "node", script, pair.InboundPort.ToString(CultureInfo.InvariantCulture), cert, key, "127.0.0.1:" + app.Port.ToString(CultureInfo.InvariantCulture), Convert.ToHexString(payload), "3"));

        using var json = JsonDocument.Parse(output);
        Assert.True(json.RootElement.GetProperty("enableConnectProtocol").GetBoolean());
        Assert.Equal(100, json.RootElement.GetProperty("maxConcurrentStreams").GetInt32());
        Assert.Equal(400, json.RootElement.GetProperty("getStatus").GetInt32());
        Assert.Equal([200, 200, 200], json.RootElement.GetProperty("statuses").EnumerateArray().Select(s => s.GetInt32()));
        Assert.All(json.RootElement.GetProperty("received").EnumerateArray(), r => Assert.Equal(Convert.ToHexString(payload), r.GetString(), ignoreCase: true));
        for (var i = 1; i <= 3; i++)
        {
            var sender = "node-" + i.ToString(CultureInfo.InvariantCulture);
            var allow = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow", Direction: "inbound" } && r.PeerConnectionId == sender, "the inbound allow of " + sender);
            Assert.Equal(Web.ToString(), allow.PeerSpiffeId);
            var closed = await pair.Inbound.Audit.WaitForAsync(r => r is { Kind: AuditKinds.ConnectionClosed, Direction: "inbound" } && r.ConnectionId == allow.ConnectionId, "the inbound close of " + sender);
            Assert.Equal(payload.Length, closed.BytesIn);
        }
    }

    [Fact]
    public async Task Tunnel_SvidRotationMidTraffic_LosesNothing_NewStreamsTakeANewTunnel()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var pair = await GatePair.StartAsync(domains, app.Port);
        await using var live = await GateClients.ConnectUnixAsync(pair.Socket);
        Assert.Equal("ping", await GateClients.EchoAsync(live, "ping"));
        var before = await OwnSvidAsync(pair.Outbound);

        // Traffic on the live stream the whole time: every round byte-exact.
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

        // The caller's SVID rotates: a new acme.corp authority, trusted by payments first, then activated.
        await domains.Acme.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await pair.Inbound.Audit.WaitForAsync(
            r => r is { Kind: AuditKinds.Bundle, Decision: "updated" } && r.TrustDomain == AcmeTd.Name && r.AuthoritiesAdded is not null, "the prepared acme.corp authority at the payments gate");
        await domains.Acme.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await domains.Acme.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await TwoDomains.UntilAsync(() => OwnSvidAsync(pair.Outbound).GetAwaiter().GetResult().Leaf.Thumbprint != before.Leaf.Thumbprint, "the caller's re-issued svid");

        // A new connection presents the new SVID: a new tunnel (another client socket at the payments gate).
        await using (var fresh = await GateClients.ConnectUnixAsync(pair.Socket))
        {
            Assert.Equal("new", await GateClients.EchoAsync(fresh, "new"));
        }

        var counted = Volatile.Read(ref rounds);
        await TwoDomains.UntilAsync(() => Volatile.Read(ref rounds) > counted + 10, "traffic on the old tunnel after the rotation");
        await stop.CancelAsync();
        await traffic;
        Assert.DoesNotContain(pair.Outbound.Audit.Records, r => r.Kind == AuditKinds.ConnectionClosed && r.Reason is not null);
        var remotes = pair.Inbound.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }).Select(r => r.Remote).ToList();
        Assert.Equal(2, remotes.Count);
        Assert.NotEqual(remotes[0], remotes[1]);
    }

    private static async Task<Anchorage.Spiffe.Svids.X509Svid> OwnSvidAsync(GateNode node)
    {
        using var peer = PeerCredentialsReader.FromProcessId(Environment.ProcessId);
        var attestation = await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None);
        return node.Agent.Agent.Cache.Resolve("test", attestation.Selectors)!.X509Svids[0];
    }

    private static int Closes(GateNode node, string direction) =>
        node.Audit.Records.Count(r => r.Kind == AuditKinds.ConnectionClosed && r.Direction == direction);

    /// <summary>A payments gate (inbound "api" forwarding to the app) and an acme gate with tunnels (outbound "payments" to it), both allowing web to api.</summary>
}

/// <summary>A plain TCP service that reads until the caller's end of stream, then sends everything back and closes.</summary>
internal sealed class ReplyAfterEofServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public ReplyAfterEofServer()
    {
        _listener.Start();
        _loop = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        var stream = client.GetStream();
                        var all = new MemoryStream();
                        await stream.CopyToAsync(all, _stop.Token);
                        await stream.WriteAsync(all.ToArray(), _stop.Token);
                        client.Client.Shutdown(SocketShutdown.Send);
                    }
                    catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
                    {
                        // Closed.
                    }
                }
            });
        }
    }
}
