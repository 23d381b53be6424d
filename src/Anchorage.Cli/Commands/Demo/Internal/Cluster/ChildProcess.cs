using System.Diagnostics;
using System.Text;
using Anchorage.Foundation.Files;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// A child process of the cluster (a server, an agent, a service, a workload): its stdout and stderr go to a log file (and stdout lines to a
/// queue the demo can wait on); disposing kills it and everything it started.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(string name, Process process, StreamWriter log)
    {
        Name = name;
        _process = process;
        _log = log;
    }

    /// <summary>What the demo calls this process in its messages.</summary>
    public string Name { get; }

    /// <summary>The child's pid.</summary>
    public int Pid => _process.Id;

    /// <summary>Where its output goes.</summary>
    public required string LogPath { get; init; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Starts <paramref name="command"/> with <paramref name="args"/>, logging to <paramref name="logPath"/>.</summary>
    public static ChildProcess Start(string name, SelfCommand command, IEnumerable<string> args, string logPath, bool redirectInput = false)
    {
        var psi = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (var arg in command.Prefix.Concat(args))
        {
            psi.ArgumentList.Add(arg);
        }

        // Child verbs log plain lines: no colour codes in the log files.
        psi.Environment["NO_COLOR"] = "1";
        var log = new StreamWriter(SafeFile.OpenAppend(logPath, SafeFile.PrivateMode), new UTF8Encoding(false)) { AutoFlush = true };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        ChildProcess? child = null;
        try
        {
            if (!process.Start())
            {
                throw new InvalidOperationException($"{name} did not start");
            }

            child = new ChildProcess(name, process, log) { LogPath = logPath };
            var output = child;
            process.OutputDataReceived += (_, e) => output.Append(e.Data, isStdout: true);
            process.ErrorDataReceived += (_, e) => output.Append(e.Data, isStdout: false);
            process.Exited += (_, _) => output._exited.TrySetResult();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (process.HasExited)
            {
                child._exited.TrySetResult();
            }

            return child;
        }
        catch
        {
            if (child is null)
            {
                process.Dispose();
                log.Dispose();
            }

            throw;
        }
    }

    /// <summary>The stdout lines so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>Writes one line to the child's stdin.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Closes the child's stdin (a looping caller stops on end of input).</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for a stdout line that satisfies <paramref name="match"/>.</summary>
    /// <exception cref="DemoStepException">The child exited first, or <paramref name="within"/> passed.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan within, CancellationToken cancellationToken)
    {
        string? line = null;
        await Poll.UntilAsync(
            async ct =>
            {
                line = Lines.FirstOrDefault(match);
                if (line is not null || !_process.HasExited)
                {
                    return line is not null;
                }

                // The last lines may still be in flight.
                await Task.Delay(100, ct).ConfigureAwait(false);
                line = Lines.FirstOrDefault(match);
                return line is not null ? true : throw new DemoStepException($"{Name} exited with {_process.ExitCode} ({Tail()})");
            },
            within,
            TimeSpan.FromMilliseconds(50),
            () => $"{Name} printed nothing expected within {within.TotalSeconds:0} s (log: {LogPath})",
            cancellationToken).ConfigureAwait(false);
        return line!;
    }

    /// <summary>Waits for the child to exit; kills it when <paramref name="within"/> passes first.</summary>
    /// <exception cref="DemoStepException">It did not exit in time.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan within, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(within);
        try
        {
            await _exited.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw new DemoStepException($"{Name} did not finish within {within.TotalSeconds:0} s (log: {LogPath})");
        }

        // Exited fires before the redirected streams are drained.
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>The last few lines of its log, on one line, for an error message.</summary>
    public string Tail(int count = 3)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(LogPath);
        }
        catch (IOException)
        {
            return "no log";
        }

        var tail = lines.Where(l => l.Trim().Length > 0).TakeLast(count).Select(l => l.Trim());
        var text = string.Join(" | ", tail);
        return text.Length == 0 ? "no output" : text;
    }

    private void Append(string? line, bool isStdout)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            if (isStdout)
            {
                _lines.Add(line);
            }

            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // Output that arrives after the demo stopped listening.
            }
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
        catch (AggregateException)
        {
            // A descendant exited between being listed and being signalled; the rest were signalled.
        }
    }

    /// <summary>Stops the child and everything it started (its state lives in the demo's temporary directory).</summary>
    public async ValueTask DisposeAsync()
    {
        Kill();
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            try
            {
                await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Reaped later by the system; the demo does not hang on it.
            }
        }

        lock (_lines)
        {
            _log.Dispose();
        }

        _process.Dispose();
    }
}
