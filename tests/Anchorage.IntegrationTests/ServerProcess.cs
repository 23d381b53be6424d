using System.Diagnostics;
using System.Text;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests;

/// <summary>
/// <c>anchorage server run --config FILE</c> as a child process, from src/Anchorage.Cli's own
/// Release build (built once per test run). Output is kept for failure messages. Dispose kills it.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static string? _cliDll;

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public bool HasExited => _process.HasExited;

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

    /// <summary>Builds src/Anchorage.Cli in Release (once) and returns the path of anchorage.dll.</summary>
    public static async Task<string> CliDllAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (_cliDll is not null)
            {
                return _cliDll;
            }

            var root = Processes.RepoRoot();
            var psi = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = root,
            };
            foreach (var arg in (string[])["build", Path.Combine(root, "src", "Anchorage.Cli"), "-c", "Release", "-v", "q", "--nologo"])
            {
                psi.ArgumentList.Add(arg);
            }

            using var build = Process.Start(psi)!;
            var stdout = build.StandardOutput.ReadToEndAsync();
            var stderr = build.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            try
            {
                await build.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                build.Kill(entireProcessTree: true);
                throw new TimeoutException("dotnet build src/Anchorage.Cli -c Release did not finish within 5 minutes");
            }

            Assert.True(build.ExitCode == 0, $"dotnet build src/Anchorage.Cli -c Release exited {build.ExitCode}:\n{await stdout}{await stderr}");
            var dll = Path.Combine(root, "src", "Anchorage.Cli", "bin", "Release", "net10.0", "anchorage.dll");
            Assert.True(File.Exists(dll), dll + " is missing after the build");
            _cliDll = dll;
            return dll;
        }
        finally
        {
            BuildLock.Release();
        }
    }

    public static async Task<ServerProcess> StartAsync(string configPath)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[await CliDllAsync(), "server", "run", "--config", configPath])
        {
            psi.ArgumentList.Add(arg);
        }

        return new ServerProcess(Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Polls <c>anchorage server healthcheck</c> until it says healthy, the process exits, or the deadline passes.</summary>
    public async Task WaitHealthyAsync(string socket, TimeSpan within)
    {
        var deadline = TimeProvider.System.GetUtcNow() + within;
        CliResult? last = null;
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"the server exited with {_process.ExitCode} before it was healthy:\n{Output}");
            }

            if (File.Exists(socket))
            {
                last = await TestServer.RunCliAsync("server", "healthcheck", "--socket", socket);
                if (last.ExitCode == 0)
                {
                    Assert.Equal("healthy\n", last.Out);
                    return;
                }
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the server was not healthy within {within} (last healthcheck: {last?.ExitCode} {last?.Error}):\n{Output}");
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
            throw new TimeoutException("the killed server did not exit within 30 s");
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
