using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Anchorage.IntegrationTests.Agent;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Testing;
using Xunit.Abstractions;
using Anchorage.Testing.Sockets;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 10 item 3, <c>gate.transparent.failMode</c> with the agent as an operator runs it
/// (<c>anchorage agent run --config agent.yaml</c>, a child process) and killed with SIGKILL:
/// under <c>closed</c> an intercepted connect is refused while the agent is down (no plain-text
/// path around the gate), under <c>open</c> it reaches its destination directly; a restarted agent
/// intercepts again, replaces the pinned links (exactly one program per hook stays attached) and
/// nothing is left in bpffs or on the cgroup at the end. While the agent is down, a process that
/// takes the dead agent's process id is intercepted all the same (the exemption is pid + start time).
/// </summary>
/// <remarks>
/// The intercepted destination is a plain echo server: through the gate the client (which has no
/// identity here) is refused after it connected (it prints 0 bytes, the server never sees it);
/// without interception the line comes back.
/// </remarks>
[Trait("Category", "Slow")]
public sealed class TransparentAgentKillTests(ITestOutputHelper output)
{
    private const string Intercepted = "0";

    [RootFact(setpriv: true)]
    public async Task AgentKilled_ClosedRefusesOpenFlowsDirect_RestartInterceptsAgainAndLeavesNothingBehind()
    {
        await ServerProcess.CliDllAsync();
        await using var server = await TestServer.StartAsync();
        await using var plain = new PlainEchoServer();
        using var dir = new TempDir();
        using var cgroup = TransparentCgroup.Create();
        var pins = "/sys/fs/bpf/anchorage-test-" + Guid.NewGuid().ToString("N")[..12];
        var listen = LoopbackPort.Unused();
        ChildProcess? agent = null;
        try
        {
            // Closed: intercepted while the agent runs; SIGKILL leaves the pinned programs redirecting to a port nobody serves.
            agent = await StartAgentAsync(server, dir, cgroup, plain.Port, listen, "closed", pins, "1");
            Assert.Equal(Intercepted, await cgroup.ClientAsync(plain.Port));
            await UntilAuditAsync(dir, "1", 1);
            Assert.Equal(Pins(cgroup, "connect4", "connect6", "sockops"), PinNames(pins));
            var firstLinks = AttachedProgramIds(cgroup);
            Assert.Equal(3, firstLinks.Count);

            agent.Kill();
            Assert.Equal("refused", await cgroup.ClientAsync(plain.Port));
            Assert.Equal("refused", await cgroup.ClientAsync(plain.Port, host: "::ffff:127.0.0.1"));

            // The pinned programs exempt the dead agent by pid AND start time: a process that gets its pid is still intercepted.
            Assert.Equal("refused", await cgroup.ClientWithPidAsync(agent.Pid, plain.Port));
            Assert.Equal(0, plain.Accepted);
            Assert.Equal(firstLinks, AttachedProgramIds(cgroup));

            // Restarted (same agent.yaml, saved SVID): intercepted again; its links replaced the pins, the old programs are gone.
            agent.Dispose();
            agent = await StartAgentAsync(server, dir, cgroup, plain.Port, listen, "closed", pins, "2");
            Assert.Equal(Intercepted, await cgroup.ClientAsync(plain.Port));
            await UntilAuditAsync(dir, "2", 1);
            Assert.Equal(0, plain.Accepted);
            Assert.Equal(Pins(cgroup, "connect4", "connect6", "sockops"), PinNames(pins));
            var secondLinks = AttachedProgramIds(cgroup);
            Assert.Equal(3, secondLinks.Count);
            Assert.Empty(secondLinks.Intersect(firstLinks));

            // Open: a switch from closed removes the old pins; SIGKILL detaches everything and the client reaches the server itself.
            agent.Kill();
            agent.Dispose();
            agent = await StartAgentAsync(server, dir, cgroup, plain.Port, listen, "open", pins, "3");
            Assert.Equal(Intercepted, await cgroup.ClientAsync(plain.Port));
            await UntilAuditAsync(dir, "3", 1);
            Assert.False(Directory.Exists(pins), "open mode left the closed-mode pins in place");
            Assert.Equal(3, AttachedProgramIds(cgroup).Count);
            var before = plain.Accepted;

            agent.Kill();
            Assert.Equal(TransparentCgroup.Echoed, await cgroup.ClientAsync(plain.Port));
            Assert.Equal(before + 1, plain.Accepted);
            Assert.Empty(AttachedProgramIds(cgroup));

            // Restarted in open mode: intercepted again.
            agent.Dispose();
            agent = await StartAgentAsync(server, dir, cgroup, plain.Port, listen, "open", pins, "4");
            Assert.Equal(Intercepted, await cgroup.ClientAsync(plain.Port));
            await UntilAuditAsync(dir, "4", 1);
            Assert.Equal(before + 1, plain.Accepted);
            agent.Kill();
            Assert.Empty(AttachedProgramIds(cgroup));
            Assert.False(Directory.Exists(pins));
        }
        catch
        {
            output.WriteLine(agent?.Output ?? "");
            throw;
        }
        finally
        {
            agent?.Dispose();
            Anchorage.Agent.Kernel.TransparentRedirect.Unpin(pins);
        }
    }

    // Writes agent.yaml (run N: its own audit file) and starts `anchorage agent run`; returns once a client in the cgroup is intercepted.
    private static async Task<ChildProcess> StartAgentAsync(
        TestServer server, TempDir dir, TransparentCgroup cgroup, int destination, int listen, string failMode, string pins, string run)
    {
        var data = Path.Combine(dir.Path, "agent");
        var config = Path.Combine(dir.Path, "agent.yaml");
        if (!File.Exists(config))
        {
            var (joinToken, _) = await NodeParts.TokenAsync(server);
            _ = await NodeParts.OptionsAsync(server, data, joinToken); // writes agent-bootstrap.json beside dataDir
            await File.WriteAllTextAsync(Path.Combine(dir.Path, "token"), joinToken);
        }

        var token = await File.ReadAllTextAsync(Path.Combine(dir.Path, "token"));
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            trustDomain: {TestServer.Td.Name}
            dataDir: {data}
            serverAddress: 127.0.0.1:{server.Server.Host.AgentApiEndpoint.Port}
            joinToken: "{token}"
            trustBundleFile: {Path.Combine(dir.Path, "agent-bootstrap.json")}
            workloadApi:
              socket: {Path.Combine(dir.Path, "api.sock")}
            listen:
              adminSocket: {Path.Combine(dir.Path, "admin.sock")}
              health: 127.0.0.1:0
            adminUids: [{TestServer.OwnUid()}]
            gate:
              audit: {"{"} file: {Path.Combine(dir.Path, "audit-" + run + ".jsonl")} {"}"}
              transparent:
                listen: tcp://127.0.0.1:{listen}
                failMode: {failMode}
                pinDir: {pins}
                cgroups: [{cgroup.Path}]
                destinations:
                  - name: plain
                    cidr: 127.0.0.1/32
                    ports: {destination}
                    peer: spiffe://acme.corp/api
            """));
        // Ready once its own three programs are the ones attached (its listener is bound before they attach).
        var previous = AttachedProgramIds(cgroup);
        var agent = await AnchorageProcess.StartAsync("agent " + run, null, "agent", "run", "--config", config);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var ids = AttachedProgramIds(cgroup);
            if (ids.Count == 3 && !ids.Intersect(previous).Any())
            {
                return agent;
            }

            Assert.False(agent.HasExited, "the agent exited:\n" + agent.Output);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the agent's gate did not attach within 60 s (attached: {string.Join(' ', ids)}):\n{agent.Output}");
            await Task.Delay(100);
        }
    }

    // Waits until audit-RUN.jsonl holds COUNT denials of an unattested (no identity) intercepted connection.
    private static async Task UntilAuditAsync(TempDir dir, string run, int count)
    {
        var file = Path.Combine(dir.Path, "audit-" + run + ".jsonl");
        string[] lines = [];
        var denied = 0;
        await Eventually.TrueAsync(
            async () =>
            {
                lines = File.Exists(file) ? await File.ReadAllLinesAsync(file) : [];
                denied = lines.Count(l => l.Contains("\"decision\":\"deny\"", StringComparison.Ordinal) && l.Contains("\"listener\":\"plain\"", StringComparison.Ordinal));
                return denied >= count;
            },
            () => $"{file}: {denied} of {count} denials:\n{string.Join('\n', lines)}",
            TimeSpan.FromSeconds(20),
            TimeSpan.FromMilliseconds(100));
    }

    // The loader's pin names: the cgroup path as one name ('/' and '.' as '_'), "__", the hook.
    private static string[] Pins(TransparentCgroup cgroup, params string[] hooks) =>
        [.. hooks.Select(h => cgroup.Path.Trim('/').Replace('/', '_').Replace('.', '_') + "__" + h)];

    private static string[] PinNames(string pins) =>
        [.. Directory.GetFiles(pins).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    // The ids of the programs attached to the cgroup (bpftool's BPF_PROG_QUERY), all hooks.
    private static List<long> AttachedProgramIds(TransparentCgroup cgroup)
    {
        var psi = new ProcessStartInfo("/usr/sbin/bpftool") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-j", "cgroup", "show", cgroup.Path])
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var text = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "bpftool cgroup show failed: " + error);
        using var json = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "[]" : text);
        return [.. json.RootElement.EnumerateArray().Select(p => p.GetProperty("id").GetInt64()).Order()];
    }
}
