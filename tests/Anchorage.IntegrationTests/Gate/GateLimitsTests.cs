using System.Diagnostics;
using System.Globalization;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 11 item 1 at the gate's own listeners: a flood from a uid without any identity is held to
/// its per-uid cap, its refusals are audited and folded into <c>deny-summary</c> records, and a
/// legitimate caller is served during and after it; a live connection that carries nothing is
/// closed after <c>gate.idleTimeout</c>.
/// </summary>
[Trait("Category", "Slow")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class GateLimitsTests
{
    private const uint Nobody = 65534;
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [RootFact(setpriv: true)]
    public async Task Flood_ThousandsOfConnectionsFromAnIdentitylessUid_CappedSummarizedLegitimateCallerServedThroughout()
    {
        const int flood = 3000;
        const int perUid = 8;
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-payments", Web, Api, remote.Port)));
        string socket = null!;
        await using var node = await GateNode.StartAsync(
            domains,
            AcmeTd,
            [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)],
            dir => new GateOptions
            {
                MaxConnections = 64,
                MaxConnectionsPerUid = perUid,
                Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
            },
            policy,
            summarizeDenials: true);

        // Positive control before the flood.
        await using (var stream = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        using var flooder = StartFlooder(socket, flood);
        var servedDuring = 0;
        var maxOpen = 0;
        string? done = null;
        var deadline = Stopwatch.StartNew();
        while (done is null && deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            await using (var stream = await GateClients.ConnectUnixAsync(socket))
            {
                Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
            }

            servedDuring++;
            maxOpen = Math.Max(maxOpen, node.Gate.OpenConnections);
            done = flooder.Lines.FirstOrDefault(l => l.StartsWith("done ", StringComparison.Ordinal));
        }

        Assert.True(done is not null, "the flooder did not finish: " + string.Join(" | ", flooder.Lines));
        Assert.True(servedDuring >= 1);
        Assert.InRange(maxOpen, 0, perUid + 1); // the flood's slots and the legitimate caller's
        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Reason: GateReasons.ConnectionLimit }, "a refusal at the cap");
        Assert.Equal(Nobody, refused.Process!.Uid);
        Assert.Equal("the caller's uid holds its maximum of gate connections", refused.Detail);

        // The flood's denials beyond the per-window allowance are folded into summaries of its uid.
        var summary = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.DenySummary, "a deny-summary of the flood");
        Assert.Equal(Nobody, summary.Process!.Uid);
        Assert.True(summary.Count > 0);
        var passedAsTheyAre = node.Audit.Records.Count(r => r is { Kind: AuditKinds.Connection, Decision: "deny" });
        Assert.True(passedAsTheyAre < flood / 2, $"{passedAsTheyAre} deny records written one by one for a flood of {flood}");

        // After the flood: the slots are back and the legitimate caller is served.
        await flooder.KillAsync();
        await TwoDomains.UntilAsync(() => node.Gate.OpenConnections == 0, "every slot released");
        await using (var stream = await GateClients.ConnectUnixAsync(socket))
        {
            Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping"));
        }

        // Every denial was the flood's (some of its processes had exited before they could be found: no process then).
        Assert.DoesNotContain(node.Audit.Records, r => r.Decision == "deny" && r.Process is { } p && p.Uid != Nobody);
    }

    [Fact]
    public async Task Idle_LiveConnectionCarryingNothing_ClosedAfterIdleTimeoutAndAudited()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-payments", Web, Api, remote.Port)));
        string socket = null!;
        await using var node = await GateNode.StartAsync(
            domains,
            AcmeTd,
            [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)],
            dir => new GateOptions
            {
                IdleTimeout = TimeSpan.FromSeconds(2),
                Outbound = [new GateOutboundOptions { Name = "payments", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(dir, "payments")), Target = new HostPort("127.0.0.1", remote.Port), Peer = Api }],
            },
            policy);

        await using var stream = await GateClients.ConnectUnixAsync(socket);
        Assert.Equal("ping", await GateClients.EchoAsync(stream, "ping")); // served while it carries bytes
        var quiet = Stopwatch.StartNew();

        Assert.True(await GateClients.ClosedAsync(stream));
        Assert.True(quiet.Elapsed >= TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(50), $"closed after {quiet.Elapsed} of silence");
        var closed = await node.Audit.WaitForAsync(r => r.Kind == AuditKinds.ConnectionClosed, "the close record");
        Assert.Equal(GateReasons.IdleTimeout, closed.Reason);
        Assert.Equal(4, closed.BytesOut);
        Assert.Equal(0, node.Gate.OpenConnections);
    }

    // Opens COUNT connections as uid 65534 (64 connects in flight), sends nothing and holds each until
    // the gate closes it or 200 ms pass; prints "done <attempted> <closed by the gate>".
    private static Flooder StartFlooder(string socket, int count)
    {
        const string script = """
            const net = require('net');
            const [path, total] = [process.argv[1], Number(process.argv[2])];
            let started = 0, settled = 0, closed = 0;
            function next() {
              if (started >= total) return;
              started++;
              const s = net.createConnection(path);
              let counted = false;
              const settle = () => { if (counted) return; counted = true; settled++; if (settled === total) setTimeout(() => console.log(`done ${total} ${closed}`), 200); else next(); };
              s.on('connect', () => setTimeout(settle, 200));
              s.on('error', () => {});
              s.on('close', () => { closed++; settle(); });
            }
            for (let i = 0; i < 64; i++) next();
            setInterval(() => {}, 1000);
            """;
        var start = new ProcessStartInfo("/usr/bin/prlimit") { RedirectStandardOutput = true };
        foreach (var arg in (string[])["--nofile=20000:20000", "/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/node", "-e", script, socket, count.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        return new Flooder(Process.Start(start)!);
    }

    private sealed class Flooder : IDisposable
    {
        private readonly Process _process;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public Flooder(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    _lines.Enqueue(e.Data);
                }
            };
            _process.BeginOutputReadLine();
        }

        public IReadOnlyCollection<string> Lines => _lines;

        public async Task KillAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            await _process.WaitForExitAsync();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
