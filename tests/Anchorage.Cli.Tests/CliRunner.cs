using System.Diagnostics;
using Anchorage.Testing;

namespace Anchorage.Cli.Tests;

/// <summary>What one CLI run printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error);

/// <summary>Runs `anchorage` verbs in-process with captured writers, or as a real process.</summary>
internal static class CliRunner
{
    public static CliResult Run(TimeProvider time, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = CliApp.RunAsync(args, new CliContext(output, error, time)).GetAwaiter().GetResult();
        return new CliResult(code, output.ToString(), error.ToString());
    }

    public static CliResult Run(params string[] args) => Run(TimeProvider.System, args);

    /// <summary>Runs a verb in-process without blocking a thread (admin verbs talk to an in-process server).</summary>
    public static async Task<CliResult> RunAsync(TimeProvider time, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApp.RunAsync(args, new CliContext(output, error, time));
        return new CliResult(code, output.ToString(), error.ToString());
    }

    /// <summary>Runs the built anchorage.dll as its own process: real exit codes, real stdio.</summary>
    public static CliResult RunProcess(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "anchorage.dll"));
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("anchorage did not finish within 60 s");
        }

        return new CliResult(process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }
}
