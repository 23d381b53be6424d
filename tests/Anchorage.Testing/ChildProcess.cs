using System.Collections.Concurrent;
using System.Diagnostics;

namespace Anchorage.Testing;

/// <summary>
/// The one long-running child process for tests (never through a shell): its stdout and stderr
/// lines are kept for assertions and failure messages; Dispose kills the process tree and reaps it.
/// For a tool run to its end, use <see cref="Processes.Run"/>.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _all = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data, _stdout);
        _process.ErrorDataReceived += (_, e) => Append(e.Data, null);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>What failure messages call the child.</summary>
    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The lines the child wrote to stdout so far.</summary>
    public IReadOnlyCollection<string> Lines => _stdout;

    /// <summary>Everything the child wrote so far, stdout and stderr interleaved as read.</summary>
    public string Output => string.Join('\n', _all);

    /// <summary>Starts <paramref name="file"/> with <paramref name="args"/>.</summary>
    public static ChildProcess Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file);
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        return Start(Path.GetFileName(file), psi);
    }

    /// <summary>Starts <paramref name="psi"/> (output always redirected, never through a shell).</summary>
    public static ChildProcess Start(string name, ProcessStartInfo psi)
    {
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        return new ChildProcess(name, new Process { StartInfo = psi });
    }

    /// <summary>Waits until the child has exec'd <paramref name="executable"/> (e.g. after setpriv).</summary>
    public Task WaitForExecAsync(string executable) =>
        Eventually.TrueAsync(() => new FileInfo($"/proc/{Pid}/exe").LinkTarget == executable, $"{Name} to exec {executable}", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

    /// <summary>Waits (bounded by <paramref name="timeout"/>) until the child exits by itself.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout.TotalSeconds:0.#} s; its output:\n{Output}");
        }
    }

    /// <summary>SIGKILL to the process tree, then wait until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>SIGKILL to the process tree, then wait (bounded) until it is gone.</summary>
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

    private void Append(string? line, ConcurrentQueue<string>? stream)
    {
        if (line is null)
        {
            return;
        }

        stream?.Enqueue(line);
        _all.Enqueue(line);
    }
}
