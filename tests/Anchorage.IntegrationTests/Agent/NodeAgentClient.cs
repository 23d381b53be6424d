using System.Diagnostics;
using System.Text.Json;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// Runs tests/interop/node/agent-client.mjs (npm's @grpc/grpc-js, @grpc/proto-loader and jose):
/// an independent Workload API client of the running agent, optionally as another uid (setpriv).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class NodeAgentClient
{
    /// <summary>The uid/gid of "nobody", used for a caller that no entry names.</summary>
    public const int Nobody = 65534;

    public static string Script => Path.Combine(Dir, "agent-client.mjs");

    private static string Dir => Path.Combine(Processes.RepoRoot(), "tests", "interop", "node");

    /// <summary>True when this process may run a child as another uid (root and util-linux setpriv).</summary>
    public static bool CanSwitchUser => Environment.IsPrivilegedProcess && File.Exists("/usr/bin/setpriv");

    /// <summary>Runs one request mode and parses the one JSON line it prints.</summary>
    public static async Task<JsonElement> RunAsync(string socket, bool asNobody, params string[] args)
    {
        EnsureInstalled();
        string[] command = asNobody
            ? ["/usr/bin/setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "node", Script, socket, .. args]
            : ["node", Script, socket, .. args];

        // The client blocks on the socket while the agent runs in this process: run it off the test thread.
        var output = await Task.Run(() => Processes.Run(command[0], command[1..]));
        using var json = JsonDocument.Parse(output);
        return json.RootElement.Clone();
    }

    /// <summary>Starts a watch-mode client; each stdout line is one event.</summary>
    public static Process StartWatch(string socket, int count, int seconds)
    {
        EnsureInstalled();
        var psi = new ProcessStartInfo("node")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { Script, socket, "watch", count.ToString(System.Globalization.CultureInfo.InvariantCulture), seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(arg);
        }

        return Process.Start(psi)!;
    }

    /// <summary>Lets another uid reach <paramref name="path"/>: every directory from it up to the root gets o+x.</summary>
    public static void MakeTraversable(string path)
    {
        for (var dir = new DirectoryInfo(path); dir is not null; dir = dir.Parent)
        {
            var mode = File.GetUnixFileMode(dir.FullName);
            if (!mode.HasFlag(UnixFileMode.OtherExecute))
            {
                File.SetUnixFileMode(dir.FullName, mode | UnixFileMode.OtherExecute);
            }
        }
    }

    private static void EnsureInstalled()
    {
        if (!Directory.Exists(Path.Combine(Dir, "node_modules", "@grpc", "grpc-js")) || !Directory.Exists(Path.Combine(Dir, "node_modules", "jose")))
        {
            Assert.Fail("the npm packages of the interop tests are not installed: run `npm ci --prefix tests/interop/node` from the repository root");
        }
    }
}
