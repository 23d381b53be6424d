using System.Diagnostics;
using System.Text;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// The real <c>anchorage</c> CLI (src/Anchorage.Cli's Release build, <see cref="ServerProcess.CliDllAsync"/>)
/// as a child process, inside a network namespace (<c>ip netns exec NS</c>) when one is given.
/// Output is kept for failure messages; Dispose kills it (the process tree) and waits.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>anchorage ARGS</c>, in <paramref name="netns"/> when not null.</summary>
    public static async Task<ChildProcess> StartAsync(string name, string? netns, params string[] args) =>
        new(name, Process.Start(await StartInfoAsync(netns, args)) ?? throw new InvalidOperationException("could not start " + name));

    /// <summary>
    /// Starts <c>anchorage ARGS</c> in network namespace <paramref name="netns"/> only
    /// (<c>nsenter --net</c>): unlike <c>ip netns exec</c>, which mounts a fresh /sys in a new
    /// mount namespace, the process keeps the host's mounts (bpffs at /sys/fs/bpf included).
    /// </summary>
    public static async Task<ChildProcess> StartKeepingMountsAsync(string name, string netns, params string[] args)
    {
        var psi = await StartInfoAsync(null, args);
        psi.ArgumentList.Insert(0, psi.FileName);
        psi.ArgumentList.Insert(0, "--net=/run/netns/" + netns);
        psi.FileName = "nsenter";
        return new(name, Process.Start(psi) ?? throw new InvalidOperationException("could not start " + name));
    }

    /// <summary>Runs <c>anchorage ARGS</c> to the end (60 s bound), in <paramref name="netns"/> when not null.</summary>
    public static async Task<CliResult> RunAsync(string? netns, params string[] args)
    {
        using var process = Process.Start(await StartInfoAsync(netns, args)) ?? throw new InvalidOperationException("could not start anchorage");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"anchorage {string.Join(' ', args)} did not finish within 60 s");
        }

        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>SIGKILL, then wait (bounded) until the process is gone.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            throw new TimeoutException($"the killed {Name} did not exit within 30 s");
        }
    }

    public void Dispose()
    {
        try
        {
            Kill();
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static async Task<ProcessStartInfo> StartInfoAsync(string? netns, string[] args)
    {
        var dll = await ServerProcess.CliDllAsync();
        string[] command = netns is null ? ["dotnet", dll, .. args] : ["ip", "netns", "exec", netns, "dotnet", dll, .. args];
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command[1..])
        {
            psi.ArgumentList.Add(arg);
        }

        return psi;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
