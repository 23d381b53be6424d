using System.Diagnostics;
using Xunit;

namespace Anchorage.Testing;

/// <summary>Runs external tools (openssl, node) with arguments, never through a shell.</summary>
public static class Processes
{
    public static string Run(string file, params string[] args) => RunWithInput(file, null, args);

    public static string RunWithInput(string file, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var stderrTask = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} did not finish within 60 s");
        }

        var stderr = stderrTask.GetAwaiter().GetResult();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args.Take(2))} exited {process.ExitCode}: {stderr}");
        return stdout;
    }

    /// <summary>The repository root (the directory holding Anchorage.slnx).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Anchorage.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root (Anchorage.slnx) not found above " + AppContext.BaseDirectory);
    }
}
