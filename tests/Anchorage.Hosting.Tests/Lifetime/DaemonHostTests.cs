using System.Diagnostics;
using System.Globalization;
using Anchorage.Hosting.Lifetime;
using Microsoft.AspNetCore.Builder;

namespace Anchorage.Hosting.Tests.Lifetime;

public sealed class DaemonHostTests
{
    // A daemon runs wherever it was started (systemd: /). Its host must not watch that directory:
    // the default appsettings reload puts a recursive inotify watch on it.
    [Fact]
    public async Task CreateBuilder_Built_PutsNoInotifyWatchOnTheWorkingDirectory()
    {
        var directory = await InodeAsync(Environment.CurrentDirectory);

        var builder = DaemonHost.CreateBuilder(loggerFactory: null);
        await using (builder.Build())
        {
            Assert.DoesNotContain(directory, WatchedInodes());
        }

        // Positive control on the same check (run second: the framework may keep its watch after
        // the host is gone): the framework's own slim builder does watch the directory.
        var plain = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        await using (plain.Build())
        {
            Assert.Contains(directory, WatchedInodes());
        }
    }

    // The inodes every inotify descriptor of this process watches (/proc/self/fdinfo: "inotify wd:N ino:HEX ...").
    private static HashSet<ulong> WatchedInodes()
    {
        var inodes = new HashSet<ulong>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            string[] lines;
            try
            {
                target = new FileInfo(fd).LinkTarget;
                if (target != "anon_inode:inotify")
                {
                    continue;
                }

                lines = File.ReadAllLines("/proc/self/fdinfo/" + Path.GetFileName(fd));
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            foreach (var line in lines)
            {
                if (!line.StartsWith("inotify ", StringComparison.Ordinal))
                {
                    continue;
                }

                var ino = line.Split(' ').First(f => f.StartsWith("ino:", StringComparison.Ordinal))[4..];
                inodes.Add(ulong.Parse(ino, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return inodes;
    }

    private static async Task<ulong> InodeAsync(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var output = await stat.StandardOutput.ReadToEndAsync();
        await stat.WaitForExitAsync();
        return ulong.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }
}
