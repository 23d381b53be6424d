using System.Diagnostics;
using System.Reflection;
using System.Text;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Sdk;

/// <summary>
/// A sample of samples/ run as its own native executable (the apphost the build writes), so the
/// agent attests it by its executable path. Output is kept; Dispose kills it and waits.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class SampleApp : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SampleApp(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

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

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>The apphost of <paramref name="sample"/> as built with this test's configuration.</summary>
    public static string Executable(string sample)
    {
        var configuration = typeof(SampleApp).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;
        var path = Path.Combine(Processes.RepoRoot(), "samples", sample, "bin", configuration, "net10.0", sample);
        Assert.True(File.Exists(path), $"{path} is not built (the test project references the samples)");
        return path;
    }

    /// <summary>A copy of <paramref name="sample"/>'s build output under <paramref name="dir"/>: same code, another executable path, so another identity.</summary>
    public static string CopyOf(string sample, string dir)
    {
        var source = Path.GetDirectoryName(Executable(sample))!;
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var exe = Path.Combine(dir, sample);
        File.SetUnixFileMode(exe, File.GetUnixFileMode(Executable(sample)));
        return exe;
    }

    public static SampleApp Start(string executable, string workloadSocket, params string[] args)
    {
        var psi = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["SPIFFE_ENDPOINT_SOCKET"] = "unix://" + workloadSocket;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        return new SampleApp(Process.Start(psi) ?? throw new InvalidOperationException("could not start " + executable));
    }

    /// <summary>Waits (bounded) until the output holds <paramref name="text"/>.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline && !_process.HasExited, $"no \"{text}\" within {timeout.TotalSeconds} s; output:\n{Output}");
            await Task.Delay(50);
        }
    }

    /// <summary>Waits (bounded) for the process to exit; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"did not exit within {timeout.TotalSeconds} s; output:\n{Output}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(30));
        }

        _process.Dispose();
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
