using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// The same program run as another user (nobody, when root) and through another executable (the
/// dotnet host) uses web's gate socket: each is denied and audited with its pid and executable,
/// and the payments service sees no connection.
/// </summary>
internal sealed class RogueStep : DemoStep
{
    // Time for a connection that slipped through to show up at the service before it is counted.
    private static readonly TimeSpan SettleTime = TimeSpan.FromMilliseconds(300);

    public override string Name => "rogue";

    public override string Title => "a rogue process uses the same gate socket: denied, and payments never sees it";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var anchorage = demo.Anchorage;
        var rogues = new List<SelfCommand>();
        if (demo.Cluster.Uid == 0 && SelfCommand.Setpriv() is { } setpriv && OthersCanRun(anchorage.FileName))
        {
            rogues.Add(anchorage.AsUser(SelfCommand.Nobody, setpriv));
        }

        if (anchorage.IsAppHost && SelfCommand.DotnetHost() is { } host)
        {
            rogues.Add(host);
        }

        if (rogues.Count == 0)
        {
            throw new DemoStepException("no way to run a rogue process here: not root (for setpriv) and no app host to tell apart from the dotnet host");
        }

        var before = demo.ServiceConnections;
        var seen = new List<string>();
        foreach (var rogue in rogues)
        {
            var (code, output, pid) = await Workloads.CallAsync(rogue, demo.Web, "rogue says hi", cancellationToken).ConfigureAwait(false);
            demo.Console.Info($"rogue pid {pid} ({rogue.Description}): exit {code}, {CliApp.OneLine(output)}");
            if (code == 0)
            {
                throw new DemoStepException($"the rogue ({rogue.Description}, pid {pid}) got a reply through web's gate: {CliApp.OneLine(output)}");
            }

            var record = await demo.Cluster.WaitAuditAsync(demo.Web, r => r.Pid == pid && r.Decision == "deny", $"a deny record for the rogue's pid {pid}", cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrEmpty(record.Exe))
            {
                throw new DemoStepException($"the deny record for pid {pid} does not name the executable");
            }

            demo.Rogues.Add((pid, rogue.Description));
            seen.Add($"pid {pid} exe {record.Exe} ({record.Reason ?? record.Rule ?? "denied"})");
        }

        await Task.Delay(SettleTime, cancellationToken).ConfigureAwait(false);
        if (demo.ServiceConnections != before)
        {
            throw new DemoStepException("the payments service saw a connection while only rogues were calling");
        }

        return "denied and audited: " + string.Join("; ", seen) + "; payments saw no connection";
    }

    /// <summary>Whether nobody can walk to <paramref name="executable"/>, run it and read the assemblies beside it.</summary>
    private static bool OthersCanRun(string executable)
    {
        var dir = Path.GetDirectoryName(executable);
        while (!string.IsNullOrEmpty(dir))
        {
            if ((ClusterFiles.ModeOf(dir) & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }

            dir = Path.GetDirectoryName(dir);
        }

        // A single-file build (scripts/release) has no anchorage.dll: the executable carries the assemblies and reads itself.
        var mode = ClusterFiles.ModeOf(executable);
        var assemblies = File.Exists(SelfCommand.Dll) ? SelfCommand.Dll : executable;
        return (mode & UnixFileMode.OtherExecute) != 0 && (ClusterFiles.ModeOf(assemblies) & UnixFileMode.OtherRead) != 0;
    }
}
