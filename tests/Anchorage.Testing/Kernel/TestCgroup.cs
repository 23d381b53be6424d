using System.Diagnostics;
using System.Globalization;

namespace Anchorage.Agent.Tests.Kernel;

/// <summary>
/// A child cgroup of its own under /sys/fs/cgroup/unified (never the root): processes started in
/// it are attributed by the programs a test attaches there. Dispose kills what is still inside
/// and removes it (links die with their owner, so nothing stays attached).
/// </summary>
internal sealed class TestCgroup : IDisposable
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

    /// <summary>Starts <paramref name="file"/> inside the cgroup: a shell moves itself in, then exec's it.</summary>
    public Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("echo $$ > \"$0/cgroup.procs\" && exec \"$@\"");
        psi.ArgumentList.Add(Path);
        psi.ArgumentList.Add(file);
        foreach (var arg in args)
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

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                Directory.Delete(Path);
                return;
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    public static string Pid(int pid) => pid.ToString(CultureInfo.InvariantCulture);
}
