using System.Diagnostics;

namespace Anchorage.Agent.Tests.Attestation;

/// <summary>A real child process (never through a shell) killed and reaped on dispose.</summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process process;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> lines = new();

    private ChildProcess(Process process) => this.process = process;

    public int Pid => process.Id;

    /// <summary>The lines the child wrote to stdout so far (only with <see cref="StartWithOutput"/>).</summary>
    public IReadOnlyCollection<string> Lines => lines;

    /// <summary>Like <see cref="Start"/>, and collects the child's stdout lines in <see cref="Lines"/>.</summary>
    public static ChildProcess StartWithOutput(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = psi };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.lines.Enqueue(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        return child;
    }

    public static ChildProcess Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        return new ChildProcess(Process.Start(psi)!);
    }

    /// <summary>Waits until the child has exec'd <paramref name="executable"/> (e.g. after setpriv).</summary>
    public async Task WaitForExecAsync(string executable)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (new FileInfo($"/proc/{Pid}/exe").LinkTarget != executable)
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    public async Task KillAsync()
    {
        process.Kill();
        await process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit();
        }

        process.Dispose();
    }
}
