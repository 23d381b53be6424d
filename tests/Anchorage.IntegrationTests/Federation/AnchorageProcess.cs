using System.Diagnostics;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// The real <c>anchorage</c> CLI (src/Anchorage.Cli's Release build, <see cref="ServerProcess.CliDllAsync"/>)
/// as a <see cref="ChildProcess"/>, inside a network namespace (<c>ip netns exec NS</c>) when one is given.
/// </summary>
internal static class AnchorageProcess
{
    /// <summary>Starts <c>anchorage ARGS</c>, in <paramref name="netns"/> when not null.</summary>
    public static async Task<ChildProcess> StartAsync(string name, string? netns, params string[] args) =>
        ChildProcess.Start(name, await StartInfoAsync(netns, args));

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
        return ChildProcess.Start(name, psi);
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
}
