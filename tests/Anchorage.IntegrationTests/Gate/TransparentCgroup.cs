using System.Diagnostics;
using System.Globalization;
using Anchorage.Testing.Kernel;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// A <see cref="TestCgroup"/> (the test's own under /sys/fs/cgroup/unified, never the root, removed
/// with its processes on dispose) and an unmodified plain-text client run inside or outside it.
/// </summary>
internal sealed class TransparentCgroup : IDisposable
{
    /// <summary>The line the client sends.</summary>
    public const string Line = "hello through the kernel\n";

    // An unmodified plain-text client: connects to HOST:PORT (127.0.0.1 unless given), sends a line,
    // half-closes, prints the bytes that came back (or "refused", or "unreachable"). With a third
    // argument "v6only" it dials from an AF_INET6 socket with IPV6_V6ONLY set.
    private const string Script = """
        import socket, sys
        try:
            if len(sys.argv) > 3 and sys.argv[3] == 'v6only':
                s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.settimeout(20)
                s.connect((sys.argv[2], int(sys.argv[1])))
            else:
                s = socket.create_connection((sys.argv[2] if len(sys.argv) > 2 else '127.0.0.1', int(sys.argv[1])), timeout=20)
        except ConnectionRefusedError:
            print('refused'); sys.exit(0)
        except OSError as e:
            if e.errno != 101:
                raise
            print('unreachable'); sys.exit(0)
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
        except OSError as e:
            if e.errno != 107:  # ENOTCONN: the peer reset the connection before the half-close
                raise
        print(got)
        """;

    // Forks until a child gets process id TARGET (ns_last_pid, root), which joins the cgroup and execs the client.
    private const string WithPid = """
        import os, sys
        target, cgroup, script, port = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        for attempt in range(500):
            with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
                f.write(str(target - 1))
            pid = os.fork()
            if pid == 0:
                if os.getpid() != target:
                    os._exit(3)
                with open(cgroup + '/cgroup.procs', 'w') as f:
                    f.write(str(os.getpid()))
                os.execv(sys.executable, [sys.executable, '-c', script, port])
            _, status = os.waitpid(pid, 0)
            if os.WEXITSTATUS(status) != 3:
                sys.exit(os.WEXITSTATUS(status))
        print('pid not obtained')
        """;

    private readonly TestCgroup _cgroup;

    private TransparentCgroup(TestCgroup cgroup) => _cgroup = cgroup;

    public string Path => _cgroup.Path;

    /// <summary>What the client prints when the whole line came back.</summary>
    public static string Echoed => Line.Length.ToString(CultureInfo.InvariantCulture);

    public static TransparentCgroup Create() => new(TestCgroup.Create());

    /// <summary>Runs the client inside the cgroup (optionally as uid/gid 65534) against <paramref name="host"/> and returns what it printed.</summary>
    public Task<string> ClientAsync(int port, bool asNobody = false, string host = "127.0.0.1", bool v6Only = false)
    {
        string[] client = asNobody
            ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", GateClients.PythonExe, "-c", Script, Port(port), host]
            : [GateClients.PythonExe, "-c", Script, Port(port), host];
        if (v6Only)
        {
            client = [.. client, "v6only"];
        }

        return RunAsync(_cgroup.Command(client));
    }

    /// <summary>Runs the client inside the cgroup as process id <paramref name="pid"/> (which must be free).</summary>
    public Task<string> ClientWithPidAsync(int pid, int port) =>
        RunAsync([GateClients.PythonExe, "-c", WithPid, pid.ToString(CultureInfo.InvariantCulture), Path, Script, Port(port)]);

    /// <summary>Runs the client outside any test cgroup.</summary>
    public static Task<string> ClientOutsideAsync(int port, string host = "127.0.0.1") => RunAsync([GateClients.PythonExe, "-c", Script, Port(port), host]);

    /// <summary>Runs the client inside network namespace <paramref name="netns"/> (outside any test cgroup).</summary>
    public static Task<string> ClientInNamespaceAsync(string netns, int port, string host = "127.0.0.1") =>
        RunAsync(["ip", "netns", "exec", netns, GateClients.PythonExe, "-c", Script, Port(port), host]);

    public void Dispose() => _cgroup.Dispose();

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
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', command.Take(3))} failed ({process.ExitCode}): {error}");
        return (await output).Trim();
    }
}
