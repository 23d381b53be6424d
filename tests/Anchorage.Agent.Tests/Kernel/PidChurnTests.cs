using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Hosting;
using Anchorage.Agent.Internal;
using Anchorage.Agent.Kernel;
using Anchorage.Testing.Kernel;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// PID churn in kernel mode (issue 10): a process connects over TCP, hands the connection to a
/// child and exits; a newcomer is made to take its pid (ns_last_pid, so root only) before the
/// agent attributes. The connection must not be given to the newcomer, nor the newcomer's own
/// connection to the original. The order of events is forced, not raced: both connections are
/// accepted and attributed only after the newcomer holds the pid.
/// </summary>
[Trait("Category", "Slow")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PidChurnTests
{
    private const string NsLastPid = "/proc/sys/kernel/ns_last_pid";

    // Connects, forks a child that keeps the connection (and waits on stdin), exits at once.
    private const string Connector = """
        import os, socket, sys
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
        if os.fork() == 0:
            sys.stdin.read(); os._exit(0)
        os._exit(0)
        """;

    // Waits for a line, then connects and keeps the connection until stdin closes.
    private const string Newcomer = """
        import socket, sys
        sys.stdin.readline()
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
        print('connected', flush=True); sys.stdin.read()
        """;

    [KernelFact]
    public async Task AttributeTcp_ConnectorExitedAndPidTakenByNewcomer_RefusedAndNewcomerGetsOnlyItsOwn()
    {
        using var cgroup = TestCgroup.Create();
        using var attributor = new ConnectionAttributor(KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]), requireRecord: true);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);

        // The original (root) connects and exits; its child holds the connection.
        var original = cgroup.Start(AttackAgent.Python, "-c", Connector, port);
        using var first = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));
        await original.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        var pid = original.Id;

        // A newcomer of another user takes the pid, then connects.
        var newcomer = await StartWithPidAsync(cgroup, pid, "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", AttackAgent.Python, "-c", Newcomer, port);
        await newcomer.StandardInput.WriteLineAsync("go");
        await newcomer.StandardInput.FlushAsync();
        Assert.Equal("connected", await AttackAgent.LineAsync(newcomer));
        using var second = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));

        // The original's connection: refused, the pid is the newcomer's now.
        var e = Assert.Throws<WorkloadAttestationException>(() => Attribute(attributor, first));
        Assert.Equal($"process {pid} exited after it connected (its pid may belong to another process now)", e.Message);

        // Positive control, same pid: the newcomer's own connection is the newcomer's, as nobody.
        using var peer = Attribute(attributor, second);
        Assert.Equal(pid, peer.ProcessId);
        Assert.Equal(65534u, peer.UserId);
        Assert.Equal(AttributionMode.Kernel, peer.Mode);
        Assert.Equal(ProcFs.TryReadStartTime(pid), peer.StartTime);
    }

    [KernelFact]
    public async Task HasExited_ConnectorAliveThenExited_TellsByExactStartTime()
    {
        using var cgroup = TestCgroup.Create();
        using var attribution = KernelAttribution.Load(KernelAttribution.DefaultObjectPath, [cgroup.Path]);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port.ToString(CultureInfo.InvariantCulture);

        var client = cgroup.Start(AttackAgent.Python, "-c", "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1]))); sys.stdin.readline()", port);
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(attribution.TryTakeTcp((IPEndPoint)accepted.RemoteEndPoint!, (IPEndPoint)accepted.LocalEndPoint!, out var facts));

        Assert.False(attribution.HasExited(facts));
        client.StandardInput.Close();
        await client.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(attribution.HasExited(facts));

        // Another start time under the same pid (a newcomer) is not the one that ended.
        Assert.False(attribution.HasExited(facts with { StartTimeNs = facts.StartTimeNs + 1 }));
    }

    private static PeerProcess Attribute(ConnectionAttributor attributor, Socket accepted) =>
        attributor.AttributeTcp((IPEndPoint)accepted.LocalEndPoint!, (IPEndPoint)accepted.RemoteEndPoint!);

    // Makes the kernel hand out `pid` next (ns_last_pid = pid - 1) and starts the program in the
    // cgroup with it; retries when another process of the system takes the pid first.
    // Parallel tests start processes and threads (each takes an id) between the write and the fork,
    // so it may take many attempts.
    private static async Task<Process> StartWithPidAsync(TestCgroup cgroup, int pid, string file, params string[] args)
    {
        const int attempts = 500;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            await File.WriteAllTextAsync(NsLastPid, (pid - 1).ToString(CultureInfo.InvariantCulture));
            var process = cgroup.Start(file, args);
            if (process.Id == pid)
            {
                return process;
            }

            process.Kill();
            await process.WaitForExitAsync();
            process.Dispose();
        }

        throw new Xunit.Sdk.XunitException($"could not make a new process take pid {pid} in {attempts} attempts");
    }
}
