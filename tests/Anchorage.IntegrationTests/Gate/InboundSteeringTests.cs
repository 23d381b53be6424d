using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Testing;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 10 item 3, inbound: a connection to a steered service port is handed by the kernel
/// (sk_lookup) to the inbound gate, which verifies the client's SVID and forwards it to the
/// service, which never moved from its port. Everything runs in the test's own network
/// namespaces (A: server, agent and service; B: a remote client over a veth pair), so the program
/// is attached to namespace A, never to the host's: the test checks that too.
/// </summary>
[Trait("Category", "Slow")]
public sealed class InboundSteeringTests(ITestOutputHelper output)
{
    private const int ServicePort = 8443;
    private const int OtherPort = 8081;

    // A plain echo service on 0.0.0.0 (one port per argument); prints "accepted PORT" per connection.
    private const string Service = """
        import socket, sys, threading
        def serve(port):
            l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            l.bind(('0.0.0.0', port)); l.listen(64)
            while True:
                c, _ = l.accept()
                print('accepted', port, flush=True)
                threading.Thread(target=echo, args=(c,), daemon=True).start()
        def echo(c):
            try:
                while True:
                    d = c.recv(4096)
                    if not d:
                        break
                    c.sendall(d)
            except OSError:
                pass
            c.close()
        for p in sys.argv[1:]:
            threading.Thread(target=serve, args=(int(p),), daemon=True).start()
        print('ready', flush=True)
        threading.Event().wait()
        """;

    // An mTLS client: HOST PORT CERT KEY CA; sends the line, prints how many bytes came back.
    private const string MtlsClient = """
        import socket, ssl, sys
        host, port, cert, key, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ca)
        ctx.load_cert_chain(cert, key)
        s = ctx.wrap_socket(socket.create_connection((host, port), timeout=20))
        s.sendall(b'hello through the kernel\n')
        got = b''
        while len(got) < 25:
            d = s.recv(4096)
            if not d:
                break
            got += d
        print(len(got))
        """;

    [RootFact(setpriv: true)]
    public async Task SteeredPort_MtlsClientVerifiedAndForwarded_PlainRefused_OtherPortUntouched_ClosedAfterKill()
    {
        Assert.True(NetworkNamespaces.Unavailable is null, NetworkNamespaces.Unavailable);
        await ServerProcess.CliDllAsync();
        using var dir = new TempDir();
        using var namespaces = NetworkNamespaces.Create();
        var pins = "/sys/fs/bpf/anchorage-test-" + Guid.NewGuid().ToString("N")[..12];
        var accepted = new ConcurrentQueue<int>();
        using var service = StartService(namespaces.A, accepted);
        ProcessDomain? acme = null;
        try
        {
            await Eventually.TrueAsync(() => accepted.Contains(0), "the service to listen");
            var inodeA = NamespaceInodeOf(namespaces.A);

            // Control before any steering: the service is reached in plain text.
            Assert.Equal(TransparentCgroup.Echoed, await TransparentCgroup.ClientInNamespaceAsync(namespaces.B, ServicePort, NetworkNamespaces.AddressA));
            await Eventually.TrueAsync(() => Count(accepted, ServicePort) == 1, "the service to see the plain control");

            // Control for IPv6: the service listens on IPv4 only, so [::1]:PORT is refused before steering.
            Assert.Equal("refused", await TransparentCgroup.ClientInNamespaceAsync(namespaces.A, ServicePort, "::1"));

            var policy = Path.Combine(dir.Path, "policy.yaml");
            await File.WriteAllTextAsync(policy, string.Create(CultureInfo.InvariantCulture, $"""
                apiVersion: anchorage.dev/v1alpha1
                kind: CommunicationPolicy
                metadata: {"{"} name: steering {"}"}
                spec:
                  rules:
                    - name: web-to-web
                      action: allow
                      from: {"{"} spiffeId: "spiffe://acme.corp/web" {"}"}
                      to:   {"{"} spiffeId: "spiffe://acme.corp/web", port: {ServicePort} {"}"}
                """));
            var audit = Path.Combine(dir.Path, "audit.jsonl");
            acme = await ProcessDomain.StartAsync(TwoDomains.AcmeTd, dir.Path, namespaces.A, "127.0.0.1", "1m");
            await acme.StartAgentAsync("/web", string.Create(CultureInfo.InvariantCulture, $"""
                gate:
                  policyFile: {policy}
                  audit: {"{"} file: {audit} {"}"}
                  transparent:
                    failMode: closed
                    pinDir: {pins}
                    inbound:
                      - name: web-steered
                        port: {ServicePort}
                """), hostMounts: true);

            // Attached to namespace A (the agent's), not to the host's.
            Assert.Equal(inodeA, NamespaceInode(acme.AgentProcessId.ToString(CultureInfo.InvariantCulture)));
            Assert.NotEqual(inodeA, NamespaceInode("self"));
            await Eventually.TrueAsync(() => SkLookupLinks(inodeA).Count == 1, "the agent's sk_lookup link in namespace A");
            Assert.Empty(SkLookupLinks(NamespaceInode("self")));

            // A plain-text client from B (and one inside A) is refused by the gate; the service never sees them.
            Assert.Equal("0", await TransparentCgroup.ClientInNamespaceAsync(namespaces.B, ServicePort, NetworkNamespaces.AddressA));
            Assert.Equal("0", await TransparentCgroup.ClientInNamespaceAsync(namespaces.A, ServicePort));
            await UntilAuditAsync(audit, "\"decision\":\"deny\"", 2);
            Assert.Equal(1, Count(accepted, ServicePort));

            // A client with an SVID (mTLS) from B: verified, decided and forwarded to the service on its own port.
            var svid = await acme.FetchX509Async(Path.Combine(dir.Path, "client"));
            Assert.Equal("25", await MtlsClientAsync(namespaces.B, NetworkNamespaces.AddressA, svid));
            await Eventually.TrueAsync(() => Count(accepted, ServicePort) == 2, "the service to see the forwarded connection");
            var allowed = await UntilAuditAsync(audit, "\"decision\":\"allow\"", 1);
            Assert.Contains("\"listener\":\"web-steered\"", allowed, StringComparison.Ordinal);
            Assert.Contains("\"peerSpiffeId\":\"spiffe://acme.corp/web\"", allowed, StringComparison.Ordinal);

            // IPv6: a connection to [::1]:PORT is steered to the gate's IPv6 socket like an IPv4 one:
            // plain text refused and audited; mTLS verified and forwarded to the service (on IPv4).
            Assert.Equal("0", await TransparentCgroup.ClientInNamespaceAsync(namespaces.A, ServicePort, "::1"));
            await UntilAuditAsync(audit, "\"decision\":\"deny\"", 3);
            Assert.Equal("25", await MtlsClientAsync(namespaces.A, "::1", svid));
            await Eventually.TrueAsync(() => Count(accepted, ServicePort) == 3, "the service to see the forwarded IPv6 connection");
            var allowed6 = await UntilAuditAsync(audit, "\"decision\":\"allow\"", 2);
            Assert.Contains("\"listener\":\"web-steered\"", allowed6, StringComparison.Ordinal);
            Assert.Contains("\"remote\":\"[::1]:", allowed6, StringComparison.Ordinal);

            // Another port of the same host: untouched.
            Assert.Equal(TransparentCgroup.Echoed, await TransparentCgroup.ClientInNamespaceAsync(namespaces.B, OtherPort, NetworkNamespaces.AddressA));
            await Eventually.TrueAsync(() => Count(accepted, OtherPort) == 1, "the other port to be served directly");

            // Closed: SIGKILL leaves the pinned program; with no gate socket it refuses, never delivering plain text to the service.
            acme.KillAgent();
            Assert.Equal("refused", await TransparentCgroup.ClientInNamespaceAsync(namespaces.B, ServicePort, NetworkNamespaces.AddressA));
            Assert.Equal(3, Count(accepted, ServicePort));

            // Unpinned: the program is gone and the service is reached directly again.
            Anchorage.Agent.Kernel.InboundSteering.Unpin(pins);
            await Eventually.TrueAsync(() => SkLookupLinks(inodeA).Count == 0, "the pinned link to go");
            Assert.Equal(TransparentCgroup.Echoed, await TransparentCgroup.ClientInNamespaceAsync(namespaces.B, ServicePort, NetworkNamespaces.AddressA));
        }
        catch
        {
            output.WriteLine(acme?.Logs ?? "");
            throw;
        }
        finally
        {
            acme?.Dispose();
            Anchorage.Agent.Kernel.InboundSteering.Unpin(pins);
        }
    }

    private static int Count(ConcurrentQueue<int> accepted, int port) => accepted.Count(p => p == port);

    private static ChildService StartService(string netns, ConcurrentQueue<int> accepted)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["netns", "exec", netns, GateClients.PythonExe, "-c", Service, ServicePort.ToString(CultureInfo.InvariantCulture), OtherPort.ToString(CultureInfo.InvariantCulture)])
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is "ready")
            {
                accepted.Enqueue(0);
            }
            else if (e.Data?.StartsWith("accepted ", StringComparison.Ordinal) == true)
            {
                accepted.Enqueue(int.Parse(e.Data["accepted ".Length..], CultureInfo.InvariantCulture));
            }
        };
        process.BeginOutputReadLine();
        return new ChildService(process);
    }

    private static async Task<string> MtlsClientAsync(string netns, string host, string svidDir)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["netns", "exec", netns, GateClients.PythonExe, "-c", MtlsClient, host, ServicePort.ToString(CultureInfo.InvariantCulture),
            Path.Combine(svidDir, "svid.0.pem"), Path.Combine(svidDir, "svid.0.key"), Path.Combine(svidDir, "bundle.0.pem")])
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, "the mTLS client failed: " + stderr);
        return (await stdout).Trim();
    }

    // The inode of a process's network namespace ("net:[INODE]").
    private static string NamespaceInode(string pid) => new FileInfo($"/proc/{pid}/ns/net").LinkTarget!["net:[".Length..^1];

    // The inode of a named namespace (ip netns add bind-mounts it under /run/netns).
    private static string NamespaceInodeOf(string name) => Run("stat", "-L", "-c", "%i", "/run/netns/" + name).Trim();

    // The sk_lookup links attached to the network namespace with inode INODE (bpftool link show).
    private static List<JsonElement> SkLookupLinks(string inode)
    {
        using var json = JsonDocument.Parse(Run("/usr/sbin/bpftool", "-j", "link", "show") is { Length: > 0 } text ? text : "[]");
        return [.. json.RootElement.EnumerateArray()
            .Where(l => l.TryGetProperty("type", out var type) && type.GetString() == "netns"
                && l.TryGetProperty("netns_ino", out var ino) && ino.GetRawText() == inode)
            .Select(l => l.Clone())];
    }

    private static string Run(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in command[1..])
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var text = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', command)} failed: {error}");
        return text;
    }

    // Waits until FILE holds COUNT lines containing TEXT; returns the last of them.
    private static async Task<string> UntilAuditAsync(string file, string text, int count)
    {
        List<string> lines = [];
        await Eventually.TrueAsync(
            async () => (lines = File.Exists(file) ? [.. (await File.ReadAllLinesAsync(file)).Where(l => l.Contains(text, StringComparison.Ordinal))] : []).Count >= count,
            () => $"{file}: {lines.Count} of {count} lines with {text}",
            TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(100));
        return lines[^1];
    }

    private sealed class ChildService(Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(30_000);
            process.Dispose();
        }
    }
}
