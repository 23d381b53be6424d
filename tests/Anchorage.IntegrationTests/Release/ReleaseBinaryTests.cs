using System.Diagnostics;
using System.Runtime.Versioning;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Release;

/// <summary>
/// The release artifact (scripts/release): the single file, copied alone into a clean directory and
/// run with no .NET to be found, runs the whole demo (servers, agents and workloads are all that
/// one file). Slow: the artifact is built once per test run, only when the one in
/// artifacts/release/ is missing or was built from another commit, then reused by every test here.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class ReleaseBinaryTests
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static string? _built;

    [Fact]
    public async Task Version_ReleaseBinary_VersionPlusTheCommitItWasBuiltFrom()
    {
        var binary = await BinaryAsync();

        var (code, output, _) = await RunAsync(binary, Path.GetDirectoryName(binary)!, TimeSpan.FromMinutes(1), CleanEnvironment(Path.GetTempPath()), "--version");

        Assert.Equal(0, code);
        Assert.Matches($@"^0\.1\.0\+{await GitAsync("rev-parse", "HEAD")}(\.dirty)?\n$", output);
    }

    [Fact]
    public async Task Demo_ReleaseBinaryAloneInACleanDirectory_EveryStepBehaves()
    {
        var binary = await BinaryAsync();
        using var clean = new TempDir();

        // World-searchable: when the demo runs as root its rogue workload runs as nobody.
        File.SetUnixFileMode(clean.Path, (UnixFileMode)0b111_101_101);
        var bin = Directory.CreateDirectory(Path.Combine(clean.Path, "bin"), (UnixFileMode)0b111_101_101).FullName;
        var copy = Path.Combine(bin, "anchorage");
        File.Copy(binary, copy);
        File.SetUnixFileMode(copy, (UnixFileMode)0b111_101_101);
        var work = Directory.CreateDirectory(Path.Combine(clean.Path, "work")).FullName;

        var (code, output, error) = await RunAsync(copy, work, TimeSpan.FromMinutes(8), CleanEnvironment(clean.Path), "demo");

        Assert.True(code == 0, $"exit {code}\n{error}\n{output}");
        Assert.Contains("demo: every step behaved as expected", output, StringComparison.Ordinal);
        Assert.Equal(["anchorage"], Directory.EnumerateFileSystemEntries(bin).Select(Path.GetFileName));
    }

    /// <summary>The artifact of scripts/release, built now if missing or from another commit (once per run).</summary>
    private static async Task<string> BinaryAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (_built is not null)
            {
                return _built;
            }

            var root = Processes.RepoRoot();
            var binary = Path.Combine(root, "artifacts", "release", "linux-x64", "anchorage");
            var head = await GitAsync("rev-parse", "HEAD");
            var current = File.Exists(binary)
                && (await RunAsync(binary, root, TimeSpan.FromMinutes(1), CleanEnvironment(Path.GetTempPath()), "--version")).Out.Contains("+" + head, StringComparison.Ordinal);
            if (!current)
            {
                var (code, output, error) = await RunAsync(Path.Combine(root, "scripts", "release"), root, TimeSpan.FromMinutes(30), null, "--allow-dirty");
                Assert.True(code == 0, $"scripts/release exited {code}:\n{output}{error}");
            }

            _built = binary;
            return binary;
        }
        finally
        {
            BuildLock.Release();
        }
    }

    // No .NET to fall back on: no DOTNET_ROOT, no dotnet on PATH, a HOME of its own.
    private static Dictionary<string, string> CleanEnvironment(string home) => new()
    {
        ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin",
        ["HOME"] = home,
        ["DOTNET_ROOT"] = "/nonexistent",
    };

    private static async Task<string> GitAsync(params string[] args) =>
        (await RunAsync("git", Processes.RepoRoot(), TimeSpan.FromMinutes(1), null, args)).Out.Trim();

    private static async Task<(int Code, string Out, string Error)> RunAsync(
        string program, string workingDirectory, TimeSpan timeout, Dictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (environment is not null)
        {
            psi.Environment.Clear();
            foreach (var (name, value) in environment)
            {
                psi.Environment[name] = value;
            }
        }

        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish within {timeout}:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
