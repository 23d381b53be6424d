using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;

namespace Anchorage.IntegrationTests.Demo;

/// <summary>
/// <c>anchorage demo</c> as a user runs it: the Release build, as a child process, with its real
/// child servers, agents and workloads. Slow (two servers, three agents, a rotation, a revocation).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class DemoCommandTests
{
    private static readonly TimeSpan DemoTimeout = TimeSpan.FromMinutes(8);

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Demo_EveryStep_ExitsZeroAndTheAuditShowsTheRogueDeniedWithPidAndExecutable()
    {
        var (code, output, error) = await RunDemoAsync();

        Assert.True(code == 0, $"exit {code}\n{error}\n{output}");
        Assert.Contains("demo: every step behaved as expected", output, StringComparison.Ordinal);
        var rogues = RoguePid().Matches(output).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        Assert.NotEmpty(rogues);
        foreach (var pid in rogues)
        {
            // The printed audit trail holds a deny record naming the rogue's pid and its executable.
            var record = output.Split('\n').FirstOrDefault(l => l.Contains(" deny ", StringComparison.Ordinal) && l.Contains($" pid={pid} exe=/", StringComparison.Ordinal));
            Assert.True(record is not null, $"no deny record with pid={pid} and its exe in the printed audit trail:\n{output}");
        }

        // Positive control on the same output: the allowed call is in the trail as an allow record.
        Assert.Contains(output.Split('\n'), l => l.Contains(" allow ", StringComparison.Ordinal) && l.Contains("spiffe://acme.corp/web", StringComparison.Ordinal));
        AssertCleanedUp(output);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Demo_StepFails_ExitsOneNamingTheStepAndStopsEverything()
    {
        var (code, output, error) = await RunDemoAsync("--sabotage", "federation");

        Assert.Equal(1, code);
        Assert.Equal("demo: step 'federation' failed: sabotaged on request (--sabotage federation)\n", error);
        Assert.Contains("ok   both healthy", output, StringComparison.Ordinal);
        Assert.Contains("FAIL sabotaged on request", output, StringComparison.Ordinal);
        Assert.DoesNotContain("[3/", output, StringComparison.Ordinal);
        AssertCleanedUp(output);
    }

    /// <summary>The working directory the demo named is gone, and so is every child it named by pid.</summary>
    private static void AssertCleanedUp(string output)
    {
        var dir = WorkingDir().Match(output);
        Assert.True(dir.Success, output);
        Assert.False(Directory.Exists(dir.Groups[1].Value), $"{dir.Groups[1].Value} is still there");
        var children = ChildPid().Matches(output)
            .Select(m => (Pid: int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), Argument: ChildArgument(dir.Groups[1].Value, m.Groups[1].Value, m.Groups[2].Value)))
            .ToList();
        Assert.NotEmpty(children);
        foreach (var (pid, argument) in children)
        {
            Assert.False(IsStillRunning(pid, argument), $"child pid {pid} ({argument}) is still running");
        }
    }

    /// <summary>
    /// The argument that names this demo's child in its command line: the config file's full path
    /// (the demo prints it relative to its directory) or the listen address.
    /// </summary>
    private static string ChildArgument(string dir, string option, string value) =>
        option == "--config" ? $"--config {dir}/{value}" : $"{option} {value}";

    /// <summary>
    /// True when <paramref name="pid"/> runs and is still this demo's child. pid_max is 32768 here and
    /// every thread takes an id, so by the time the demo has exited a parallel test may own the same
    /// number: the command line tells them apart. A zombie (state Z) has exited; only its parent's
    /// bookkeeping is left.
    /// </summary>
    private static bool IsStillRunning(int pid, string argument)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..][0] == 'Z')
            {
                return false;
            }

            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            return commandLine.Contains(argument, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // gone (FileNotFoundException and DirectoryNotFoundException are IOExceptions)
        }
    }

    private static async Task<(int Code, string Output, string Error)> RunDemoAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(await ServerProcess.CliDllAsync());
        psi.ArgumentList.Add("demo");
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(psi)!;
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.Append(e.Data).Append('\n');
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (error)
                {
                    error.Append(e.Data).Append('\n');
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(DemoTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"anchorage demo did not finish within {DemoTimeout.TotalMinutes} minutes:\n{output}");
        }

        process.WaitForExit();
        lock (output)
        {
            lock (error)
            {
                return (process.ExitCode, output.ToString(), error.ToString());
            }
        }
    }

    [GeneratedRegex(@"rogue pid (\d+) \(")]
    private static partial Regex RoguePid();

    [GeneratedRegex(@"working in (/\S+)")]
    private static partial Regex WorkingDir();

    [GeneratedRegex(@"\$ anchorage (?:server run|agent run|demo serve) (--config|--listen) (\S+)\s+pid (\d+)")]
    private static partial Regex ChildPid();
}
