using System.Globalization;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo.Internal.Steps;

/// <summary>
/// The gates' audit trail through <c>anchorage audit tail --filter</c>; every rogue has a deny
/// record with its pid and executable, and batch has one at payments' gate.
/// </summary>
internal sealed class AuditStep : DemoStep
{
    public override string Name => "audit";

    public override string Title => "the audit trail of the gates";

    public override async Task<string> RunAsync(DemoContext demo, CancellationToken cancellationToken)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var all = new List<AuditLine>();
        foreach (var node in demo.Nodes)
        {
            foreach (var record in AuditLine.ReadAll(node.AuditFile))
            {
                all.Add(record);
                var key = record.Decision is null ? record.Kind ?? "?" : $"{record.Kind} {record.Decision}";
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }

        var pid = demo.AllowedPid.ToString(CultureInfo.InvariantCulture);
        (ClusterNode Node, string Filter, string Why)[] views =
        [
            (demo.Web, "process.pid=" + pid, "the allowed call: web's process, its SVID, the rule, bytes and duration"),
            (demo.Web, "decision=deny", "the rogues at web's gate: pid, executable and uid of each"),
            (demo.Api, "decision=deny", "at payments' inbound gate: batch (policy) and the copied SVID after the revocation"),
            (demo.Api, "reason=authority-revoked", "the live connection closed by the revocation"),
            (demo.Web, "kind=bundle", "bundle changes web's gate saw (payments' rotation)"),
        ];
        foreach (var (node, filter, why) in views)
        {
            demo.Console.Info(why + ":");
            string[] args = ["audit", "tail", "--file", node.AuditFile, "--lines", "100", "--filter", filter];
            var result = await demo.Cli.RunAsync(null, args, show: true, cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                throw new DemoStepException($"anchorage audit tail exited {result.ExitCode}: {CliApp.OneLine(result.Error.Trim())}");
            }

            demo.Console.Block(result.Out.Trim().Length == 0 ? "(none)" : result.Out);
        }

        foreach (var (roguePid, what) in demo.Rogues)
        {
            if (!all.Any(r => r.Pid == roguePid && r.Decision == "deny" && !string.IsNullOrEmpty(r.Exe)))
            {
                throw new DemoStepException($"the audit has no deny record with the pid {roguePid} and executable of the rogue ({what})");
            }
        }

        if (!all.Any(r => r.Decision == "deny" && r.PeerSpiffeId == DemoContext.BatchId))
        {
            throw new DemoStepException($"the audit has no deny record for {DemoContext.BatchId}");
        }

        return $"{all.Count} records in the three gates' files ({string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}"))}); the rogues' deny records name their pid and executable";
    }
}
