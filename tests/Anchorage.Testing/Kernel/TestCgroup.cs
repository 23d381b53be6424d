using System.Diagnostics;
using System.Globalization;

namespace Anchorage.Testing.Kernel;

/// <summary>
/// The one test cgroup: a child cgroup of its own under /sys/fs/cgroup/unified (never the root):
/// processes started in it are attributed by the programs a test attaches there. Dispose kills
/// what is still inside and removes it (links die with their owner, so nothing stays attached).
/// </summary>
public sealed class TestCgroup : IDisposable
{
    public const string Root = "/sys/fs/cgroup/unified";

    private readonly List<Process> processes = [];

    private TestCgroup(string path) => Path = path;

    public string Path { get; }

    public static TestCgroup Create()
    {
        var path = System.IO.Path.Combine(Root, "anchorage-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(path);
        return new TestCgroup(path);
    }

    /// <summary>The command line that runs <paramref name="command"/> inside the cgroup: a shell moves itself in, then exec's it.</summary>
    public string[] Command(params string[] command) => ["/bin/sh", "-c", "echo $$ > \"$0/cgroup.procs\" && exec \"$@\"", Path, .. command];

    /// <summary>Starts <paramref name="file"/> inside the cgroup (stdin and stdout redirected), killed on dispose.</summary>
    public Process Start(string file, params string[] args)
    {
        var command = Command([file, .. args]);
        var psi = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var arg in command[1..])
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi)!;
        processes.Add(process);
        return process;
    }

    public void Dispose()
    {
        foreach (var process in processes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit();
                }
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        // Anything left (grandchildren) is killed through the cgroup itself.
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

    public static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);
}
