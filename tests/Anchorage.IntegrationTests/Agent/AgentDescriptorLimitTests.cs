using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
using Anchorage.Cli;
using Anchorage.Cli.Commands.Demo.Internal;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Testing;
using Anchorage.WorkloadApi;
using Grpc.Core;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// A real <c>anchorage agent run</c> process at its own file-descriptor limit (lowered with
/// <c>prlimit --pid</c>, below the connection caps, so the kernel's EMFILE and not a cap is what
/// stops it): idle connections fill every descriptor it has, and the legitimate caller is told
/// "try again" (<c>Unavailable</c> or its deadline), never <c>PermissionDenied</c>; the agent
/// does not abort, and serves the caller once the idle connections are gone. The server and the
/// agent are started by the demo's <see cref="LocalCluster"/> harness.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class AgentDescriptorLimitTests(ITestOutputHelper output)
{
    private static readonly byte[] Preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    [RootFact]
    [Trait("Category", "Slow")]
    public async Task Fetch_AgentOutOfDescriptors_RetryableNeverPermissionDeniedAndServedAfterwards()
    {
        using var dir = new TempDir();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        using var shown = new StringWriter(CultureInfo.InvariantCulture);
        var clusterDir = Directory.CreateDirectory(Path.Combine(dir.Path, "cluster")).FullName;

        // The server and agent as the demo starts them (LocalCluster): child processes of the Release build.
        var anchorage = new SelfCommand("dotnet", [await ServerProcess.CliDllAsync()], "the anchorage CLI's Release build");
        await using var cluster = new LocalCluster(clusterDir, anchorage, new CliContext(TextWriter.Null, TextWriter.Null, TimeProvider.System), new DemoConsole(shown, plain: true));
        var clock = Stopwatch.StartNew();
        try
        {
            var domain = await cluster.StartServerAsync(TwoDomains.AcmeTd.Name, timeout.Token);
            await cluster.WaitHealthyAsync(domain, timeout.Token);
            var node = await cluster.StartAgentAsync(domain, "web-node", _ => "", timeout.Token);
            await cluster.WaitHealthyAsync(node, timeout.Token);
            await cluster.Cli.CheckedAsync(domain, ["entry", "create", "--spiffe-id", "spiffe://acme.corp/web", "--parent-id", node.AgentId, "--selector", $"unix:uid:{cluster.Uid}"], timeout.Token);
            output.WriteLine($"server and agent up, entry created after {clock.Elapsed.TotalSeconds:F1} s");
            await FloodAsync(node);
        }
        finally
        {
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s in all; the cluster showed:\n{shown}");
        }
    }

    private async Task FloodAsync(ClusterNode node)
    {
        var apiSocket = node.ApiSocket;
        string Logs() => $"{node.Agent.Name}: {node.Agent.Tail(40)}";

        // Positive control: this process (the entry's uid) is served before the flood, once the agent has synced the entry.
        await Eventually.TrueAsync(
            async () => await OutcomeAsync(apiSocket, TimeSpan.FromSeconds(3)) == "served",
            () => "the agent serving this process before the flood: " + Logs(),
            TimeSpan.FromSeconds(60));
        Assert.NotEmpty((await FetchAsync(apiSocket)).Svids);

        var pid = node.Agent.Pid;
        var limit = OpenDescriptors(pid) + 160;
        var prlimit = Process.Start("prlimit", ["--pid", pid.ToString(CultureInfo.InvariantCulture), $"--nofile={limit}:{limit}"])!;
        await prlimit.WaitForExitAsync();
        Assert.Equal(0, prlimit.ExitCode);

        var flood = new List<Socket>();
        try
        {
            // More idle connections than descriptors left (the caps, 1024 per uid, are far above).
            for (var i = 0; i < 320; i++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                flood.Add(socket);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(apiSocket));
                try
                {
                    await socket.SendAsync(Preface);
                }
                catch (SocketException)
                {
                    // Already closed by the agent (broken pipe): refused, which ClosedByPeer counts.
                }
            }

            // The agent holds what its descriptors allow and closes the rest at once.
            await Eventually.TrueAsync(() => !IsRunning(pid) || flood.Any(ClosedByPeer), "the agent closing one of the flood's connections");
            Assert.True(IsRunning(pid), "the agent exited at its descriptor limit: " + Logs());
            var outcomes = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                outcomes.Add(await OutcomeAsync(apiSocket, TimeSpan.FromSeconds(3)));
            }

            var open = OpenDescriptors(pid);
            output.WriteLine($"limit {limit}, agent descriptors {open}, flood connections closed by the agent {flood.Count(ClosedByPeer)} of {flood.Count}, calls during the flood: {string.Join(", ", outcomes)}");
            Assert.True(IsRunning(pid), "the agent exited at its descriptor limit: " + Logs());
            Assert.InRange(open, 0, limit - 32);
            Assert.All(outcomes, o => Assert.Contains(o, (string[])["served", "Unavailable", "DeadlineExceeded"]));
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
        }

        // Once the idle connections are gone the same caller is served again by the same process.
        await Eventually.TrueAsync(
            async () => await OutcomeAsync(apiSocket, TimeSpan.FromSeconds(3)) == "served",
            () => "the agent serving the caller again after the flood ended: " + Logs(),
            TimeSpan.FromSeconds(60));
        Assert.False(node.Agent.HasExited, "the agent exited after the flood: " + Logs());
        Assert.True(IsRunning(pid));
    }

    private static async Task<X509Context> FetchAsync(string socket)
    {
        await using var client = new WorkloadApiClient("unix://" + socket);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        return await client.FetchX509ContextAsync(timeout.Token);
    }

    /// <summary>"served", or the status code the call failed with (its own deadline is DeadlineExceeded).</summary>
    private static async Task<string> OutcomeAsync(string socket, TimeSpan within)
    {
        await using var client = new WorkloadApiClient("unix://" + socket);
        using var timeout = new CancellationTokenSource(within);
        try
        {
            return (await client.FetchX509ContextAsync(timeout.Token)).Svids.Length > 0 ? "served" : "no svids";
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && timeout.IsCancellationRequested)
        {
            return nameof(StatusCode.DeadlineExceeded); // our own deadline, reported by the client as Cancelled
        }
        catch (RpcException e)
        {
            return e.StatusCode.ToString();
        }
        catch (OperationCanceledException)
        {
            return nameof(StatusCode.DeadlineExceeded);
        }
    }

    /// <summary>True when the agent closed <paramref name="socket"/> (readable with nothing to read).</summary>
    private static bool ClosedByPeer(Socket socket)
    {
        try
        {
            return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0 && socket.Receive(new byte[1], SocketFlags.Peek) == 0;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    private static int OpenDescriptors(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
