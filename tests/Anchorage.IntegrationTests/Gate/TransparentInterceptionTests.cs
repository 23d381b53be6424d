using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Agent.Kernel;
using Anchorage.Hosting.Audit;
using Anchorage.Hosting.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 10 item 3, in the real kernel: an unmodified plain-text client in an enrolled cgroup
/// connects to the real address of a service; the cgroup's connect4 program redirects it to the
/// gate, which dials the original destination with mTLS presenting the client's own SVID. The
/// same fixture tries what must not pass or must stay untouched: a client without an identity,
/// a destination outside the configuration, a process outside the cgroup, and the agent down in
/// either fail mode.
/// </summary>
[Trait("Category", "Slow")]
public sealed class TransparentInterceptionTests
{
    private const string Line = "hello through the kernel\n";

    private static readonly SpiffeId Batch = SpiffeId.Parse("spiffe://acme.corp/batch");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [RootFact]
    public async Task UnmodifiedClientInCgroup_UpgradedWithItsOwnSvid_NoIdentityRefused_OthersUntouched()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        var service = await domains.WorkloadAsync(PaymentsTd, "/api", AcmeTd);
        await using var remote = new TlsEchoService(service.Source, service.Source);
        await using var plain = new PlainEchoServer();
        using var cgroup = TransparentCgroup.Create();
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("batch-to-api", Batch, Api, remote.Port)));
        await using var node = await GateNode.StartAsync(
            domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, remote.Port, TransparentFailMode.Open, null), policy);

        // The unmodified client: plain text to the service's real address; the service sees mTLS from /batch.
        Assert.Equal(Line.Length.ToString(CultureInfo.InvariantCulture), await cgroup.ClientAsync(remote.Port));
        Assert.Equal([Batch], remote.Peers);
        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the transparent allow");
        Assert.Equal("outbound", allowed.Direction);
        Assert.Equal("payments", allowed.Listener);
        Assert.Equal("127.0.0.1:" + remote.Port.ToString(CultureInfo.InvariantCulture), allowed.Remote);
        Assert.Equal(Batch.ToString(), allowed.SpiffeId);
        Assert.Equal(GateClients.PythonExe, allowed.Process!.Exe);

        // The same client as uid 65534 has no identity: refused, the service never sees it.
        Assert.Equal("0", await cgroup.ClientAsync(remote.Port, asNobody: true));
        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the refusal of uid 65534");
        Assert.Equal(GateReasons.Unattested, refused.Reason);
        Assert.Equal(1, remote.Accepted);

        // A destination outside the configuration: reached directly, in plain text, no audit record.
        Assert.Equal(Line.Length.ToString(CultureInfo.InvariantCulture), await cgroup.ClientAsync(plain.Port));
        Assert.Equal(1, plain.Accepted);

        // A process outside the cgroup calling the intercepted destination: untouched (its plain text reaches the TLS service, which refuses it).
        Assert.Equal("0", await TransparentCgroup.ClientOutsideAsync(remote.Port));
        Assert.Equal(2, remote.Accepted);
        Assert.Equal([Batch], remote.Peers);
        Assert.Equal(2, node.Audit.Records.Count(r => r.Kind == AuditKinds.Connection));
    }

    [RootFact]
    public async Task AgentDown_FailClosedRefuses_FailOpenFlowsPlain_BothInterceptAgainAfterRestart()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var plain = new PlainEchoServer();
        using var cgroup = TransparentCgroup.Create();
        var pins = "/sys/fs/bpf/anchorage-test-" + Guid.NewGuid().ToString("N")[..12];
        var policy = new MutablePolicySource(Policies.Of("v1"));
        try
        {
            // The plain echo server is the intercepted destination: through the gate the connection is refused
            // (it cannot verify), while the agent is down it is refused (closed) or served in plain text (open).
            await using var node = await GateNode.StartAsync(
                domains, AcmeTd, [new GateEntry("/batch", [Uid, "unix:path:" + GateClients.PythonExe], PaymentsTd)], _ => Options(cgroup, plain.Port, TransparentFailMode.Closed, pins), policy);
            var port = ((IPEndPoint)node.Gate.Endpoints["transparent"]).Port;
            Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
            await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the intercepted connection");
            Assert.Equal(0, plain.Accepted);

            // Closed: the gate stops (its listener and program fds close, as kill -9 does); the pinned programs still redirect.
            await node.Gate.DisposeAsync();
            Assert.Equal("refused", await cgroup.ClientAsync(plain.Port));
            Assert.Equal(0, plain.Accepted);

            // Restarted: the new gate's programs replace the pins; interception resumes.
            await using (var again = GateHost.Start(Options(cgroup, plain.Port, TransparentFailMode.Closed, pins, port), node.Setup))
            {
                Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
                Assert.Equal(0, plain.Accepted);
            }

            TransparentRedirect.Unpin(pins);
            Assert.Equal(Line.Length.ToString(CultureInfo.InvariantCulture), await cgroup.ClientAsync(plain.Port));
            Assert.Equal(1, plain.Accepted);

            // Open: nothing is pinned; with the gate down the programs are gone and traffic flows in plain text.
            await using (var open = GateHost.Start(Options(cgroup, plain.Port, TransparentFailMode.Open, pins, port), node.Setup))
            {
                Assert.Equal("0", await cgroup.ClientAsync(plain.Port));
                Assert.Equal(1, plain.Accepted);
                Assert.False(Directory.Exists(pins));
            }

            Assert.Equal(Line.Length.ToString(CultureInfo.InvariantCulture), await cgroup.ClientAsync(plain.Port));
            Assert.Equal(2, plain.Accepted);
        }
        finally
        {
            TransparentRedirect.Unpin(pins);
        }
    }

    private static GateOptions Options(TransparentCgroup cgroup, int port, TransparentFailMode failMode, string? pins, int listen = 0) => new()
    {
        Transparent = new GateTransparentOptions
        {
            Listen = new HostPort("127.0.0.1", listen == 0 ? FreePort() : listen),
            FailMode = failMode,
            Cgroups = [cgroup.Path],
            PinDirectory = pins ?? GateTransparentOptions.DefaultPinDirectory,
            Destinations = [new GateTransparentDestination { Name = "payments", Network = IPNetwork.Parse("127.0.0.1/32"), PortLow = port, PortHigh = port, Peer = Api }],
        },
    };

    private static int FreePort()
    {
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        return port;
    }

    /// <summary>A cgroup of the test's own under /sys/fs/cgroup/unified (never the root), removed (its processes killed) on dispose.</summary>
    private sealed class TransparentCgroup : IDisposable
    {
        // An unmodified plain-text client: connects to 127.0.0.1:PORT, sends a line, half-closes, prints the bytes that came back (or "refused").
        private const string Script = """
            import socket, sys
            try:
                s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
            except ConnectionRefusedError:
                print('refused'); sys.exit(0)
            got = 0
            try:
                s.sendall(b'hello through the kernel\n')
                s.shutdown(socket.SHUT_WR)
                while True:
                    data = s.recv(4096)
                    if not data:
                        break
                    got += len(data)
            except (ConnectionResetError, BrokenPipeError):
                pass
            print(got)
            """;

        private TransparentCgroup(string path) => Path = path;

        public string Path { get; }

        public static TransparentCgroup Create()
        {
            var path = System.IO.Path.Combine("/sys/fs/cgroup/unified", "anchorage-test-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(path);
            return new TransparentCgroup(path);
        }

        /// <summary>Runs the client inside the cgroup (optionally as uid/gid 65534) and returns what it printed.</summary>
        public Task<string> ClientAsync(int port, bool asNobody = false)
        {
            string[] client = asNobody
                ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", GateClients.PythonExe, "-c", Script, Port(port)]
                : [GateClients.PythonExe, "-c", Script, Port(port)];
            return RunAsync(["/bin/sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", Path, .. client]);
        }

        /// <summary>Runs the client outside any test cgroup.</summary>
        public static Task<string> ClientOutsideAsync(int port) => RunAsync([GateClients.PythonExe, "-c", Script, Port(port)]);

        public void Dispose()
        {
            var kill = System.IO.Path.Combine(Path, "cgroup.kill");
            if (File.Exists(kill))
            {
                File.WriteAllText(kill, "1");
            }

            var clock = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    Directory.Delete(Path);
                    return;
                }
                catch (IOException) when (clock.Elapsed < TimeSpan.FromSeconds(10))
                {
                    Thread.Sleep(20);
                }
            }
        }

        private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

        private static async Task<string> RunAsync(string[] command)
        {
            var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in command.Skip(1))
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = await process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"{string.Join(' ', command.Take(3))} failed ({process.ExitCode}): {error}");
            return output.Trim();
        }
    }
}
