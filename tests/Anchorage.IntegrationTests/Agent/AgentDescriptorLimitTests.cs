using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text;
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
/// does not abort, and serves the caller once the idle connections are gone.
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
        using var domain = await ProcessDomain.StartAsync(TwoDomains.AcmeTd, dir.Path, null, "127.0.0.1", "1m");
        await domain.StartAgentAsync("/web");

        // Positive control: this process (the entry's uid) is served before the flood.
        Assert.NotEmpty((await FetchAsync(domain.WorkloadSocket)).Svids);

        var pid = domain.AgentProcessId;
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
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(domain.WorkloadSocket));
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
            Assert.True(IsRunning(pid), "the agent exited at its descriptor limit:\n" + domain.Logs);
            var outcomes = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                outcomes.Add(await OutcomeAsync(domain.WorkloadSocket, TimeSpan.FromSeconds(3)));
            }

            var open = OpenDescriptors(pid);
            output.WriteLine($"limit {limit}, agent descriptors {open}, flood connections closed by the agent {flood.Count(ClosedByPeer)} of {flood.Count}, calls during the flood: {string.Join(", ", outcomes)}");
            Assert.True(IsRunning(pid), "the agent exited at its descriptor limit:\n" + domain.Logs);
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
            async () => await OutcomeAsync(domain.WorkloadSocket, TimeSpan.FromSeconds(3)) == "served",
            () => "the agent serving the caller again after the flood ended:\n" + domain.Logs,
            TimeSpan.FromSeconds(60));
        Assert.Equal(pid, domain.AgentProcessId);
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
