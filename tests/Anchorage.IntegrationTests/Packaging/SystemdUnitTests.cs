using System.Diagnostics;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Packaging;

/// <summary>
/// packaging/systemd/*.service: <c>systemd-analyze verify</c> accepts them without a single warning
/// (a misspelt or unparsable setting is only a warning there, so any output fails), and
/// <c>systemd-analyze security</c> rates their exposure at most the stated level. systemd is not
/// running in the test container, so both run offline against a scratch root holding the units,
/// systemd's own units and a stand-in /usr/local/bin/anchorage (verify checks ExecStart= is executable).
/// </summary>
public sealed class SystemdUnitTests
{
    private static readonly string Units = Path.Combine(Processes.RepoRoot(), "packaging", "systemd");

    [Theory]
    [InlineData("anchorage-server.service")]
    [InlineData("anchorage-agent.service")]
    public async Task Verify_ShippedUnit_NoErrorNoWarning(string unit)
    {
        using var root = ScratchRoot(File.ReadAllText(Path.Combine(Units, unit)), unit);

        var (code, output) = await SystemdAnalyzeAsync("verify", "--root=" + root.Path, unit);

        Assert.True(code == 0 && output.Length == 0, $"systemd-analyze verify {unit} exited {code}:\n{output}");
    }

    [Fact]
    public async Task Verify_UnitWithABadSetting_Reported()
    {
        // Negative control: the check above can fail.
        var unit = File.ReadAllText(Path.Combine(Units, "anchorage-server.service")).Replace("ProtectSystem=strict", "ProtectSystem=bogus", StringComparison.Ordinal);
        using var root = ScratchRoot(unit, "broken.service");

        var (_, output) = await SystemdAnalyzeAsync("verify", "--root=" + root.Path, "broken.service");

        Assert.Contains("Failed to parse protect system value, ignoring: bogus", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("anchorage-server.service", "2.0")]   // an unprivileged user, no capabilities
    [InlineData("anchorage-agent.service", "4.0")]    // root with five capabilities, sees every process
    public async Task Security_ShippedUnit_ExposureAtMost(string unit, string threshold)
    {
        using var root = ScratchRoot(File.ReadAllText(Path.Combine(Units, unit)), unit);

        var (code, output) = await SystemdAnalyzeAsync("security", "--offline=true", "--root=" + root.Path, "--threshold=" + ThresholdValue(threshold), unit);

        Assert.True(code == 0, $"systemd-analyze security {unit} is above {threshold}:\n{output}");
        Assert.Contains($"Overall exposure level for {unit}:", output, StringComparison.Ordinal);
    }

    // --threshold takes 0-100 (the printed level is that divided by 10).
    private static string ThresholdValue(string level) => ((int)(double.Parse(level, System.Globalization.CultureInfo.InvariantCulture) * 10)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static TempDir ScratchRoot(string unitText, string unitName)
    {
        var root = new TempDir();
        var system = Path.Combine(root.Path, "etc", "systemd", "system");
        Directory.CreateDirectory(system);
        File.WriteAllText(Path.Combine(system, unitName), unitText);
        var bin = Path.Combine(root.Path, "usr", "local", "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/true", Path.Combine(bin, "anchorage"));
        CopyTree("/usr/lib/systemd/system", Path.Combine(root.Path, "usr", "lib", "systemd", "system"));
        return root;
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo)
            {
                CopyTree(entry.FullName, target);
            }
            else
            {
                File.Copy(entry.FullName, target);
            }
        }
    }

    private static async Task<(int Code, string Output)> SystemdAnalyzeAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("systemd-analyze")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["SYSTEMD_COLORS"] = "0";
        psi.Environment["SYSTEMD_PAGER"] = string.Empty;
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("systemd-analyze is missing: install the Debian package systemd (scripts/test does)", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, (await stdout) + (await stderr));
        }
    }
}
