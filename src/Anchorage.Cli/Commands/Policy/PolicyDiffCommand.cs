using System.CommandLine;
using System.Globalization;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Cli.Commands.Policy;

/// <summary>
/// <c>anchorage policy diff --policy NEW.yaml --audit FILE...</c> (issue 15 item 5): replays the
/// connection decisions recorded in gate audit files against a candidate policy and lists every flow
/// whose outcome would change (<c>allow -> deny</c>, <c>deny -> allow</c>) with its count and the
/// recorded and candidate deciding rules. Exit 0 when nothing changes, 1 when something does, 2 for
/// bad input.
/// </summary>
/// <remarks>
/// Outcomes are <c>allow</c>, <c>deny</c> and <c>would-deny</c> (a policy with <c>spec.mode: audit</c>
/// let the connection through). Recorded <c>would-deny</c> decisions are replayed like the others,
/// so the flows a shadow policy would break show as <c>would-deny -> deny</c> against the same rules
/// with <c>spec.mode: enforce</c>; a candidate in audit mode answers <c>would-deny</c> where it would deny.
/// </remarks>
/// <remarks>
/// Replayed: connection records decided by policy (allowed ones, and denials with reason
/// <c>policy</c>); denials for other reasons (unattested, peer verification, ...) are not policy
/// decisions and are skipped. Outbound flows are replayed with the destination port of
/// <c>remote</c> and the process's <c>unix:uid</c>/<c>unix:gid</c> selectors; inbound flows as the
/// inbound gate decides them, without selectors, and without a port (the record names the listener,
/// not its port), so candidate rules that name a port do not match them.
/// </remarks>
internal static class PolicyDiffCommand
{
    public static Command Create(CliContext context)
    {
        var policy = new Option<string>("--policy") { Description = "the candidate CommunicationPolicy YAML file", Required = true };
        var audit = new Option<string[]>("--audit") { Description = "a gate audit file (JSON lines); repeatable", Required = true, AllowMultipleArgumentsPerToken = true };
        var command = new Command("diff", "replay recorded connection decisions against a candidate policy and list the flows whose outcome changes")
        {
            policy, audit,
        };
        command.SetAction(parse =>
        {
            var candidate = PolicyCheckCommand.Load(parse.GetRequiredValue(policy));
            var flows = new Dictionary<(string Direction, string From, string To, int Port, string Selectors, string Was), Flow>();
            var replayed = 0;
            foreach (var path in parse.GetRequiredValue(audit))
            {
                foreach (var record in Read(path))
                {
                    if (Replayable(record) is not { } request)
                    {
                        continue;
                    }

                    replayed++;
                    var was = record.Decision!;
                    var key = (record.Direction!, request.From.ToString(), request.To.ToString(), request.Port, string.Join(",", request.FromSelectors.Order(StringComparer.Ordinal)), was);
                    if (!flows.TryGetValue(key, out var flow))
                    {
                        var now = candidate.Decide(request);
                        flow = new Flow(was, record.Rule ?? PolicyDecision.DefaultRule, now.Outcome, now.Rule);
                        flows[key] = flow;
                    }

                    flow.Count++;
                }
            }

            var changed = flows.Where(f => !string.Equals(f.Value.Was, f.Value.Now, StringComparison.Ordinal)).OrderBy(f => f.Key.Direction, StringComparer.Ordinal)
                .ThenBy(f => f.Key.From, StringComparer.Ordinal).ThenBy(f => f.Key.To, StringComparer.Ordinal).ThenBy(f => f.Key.Port).ToList();
            foreach (var (key, flow) in changed)
            {
                context.Out.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{flow.Was} -> {flow.Now}  {key.Direction} {key.From} -> {key.To}{(key.Port == 0 ? string.Empty : ":" + key.Port)}  x{flow.Count}  rule {flow.WasRule} -> {flow.NowRule}"));
            }

            context.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{changed.Count} flow(s) change ({changed.Sum(c => c.Value.Count)} of {replayed} recorded decision(s))"));
            return changed.Count == 0 ? ExitCodes.Success : ExitCodes.Rejected;
        });
        return command;
    }

    private static IEnumerable<AuditRecord> Read(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.UsageOrIo, $"error: {path}: {CliApp.OneLine(e.Message)}");
        }

        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            AuditRecord record;
            try
            {
                record = AuditJson.Parse(lines[i]);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                throw new CliException(ExitCodes.UsageOrIo, string.Create(CultureInfo.InvariantCulture, $"error: {path}:{i + 1}: not an audit record: {CliApp.OneLine(e.Message)}"));
            }

            yield return record;
        }
    }

    // The policy request the gate decided, when the record is a policy decision with both IDs.
    private static PolicyRequest? Replayable(AuditRecord record)
    {
        if (record.Kind != AuditKinds.Connection
            || record.Decision is not (PolicyDecision.AllowOutcome or PolicyDecision.DenyOutcome or PolicyDecision.WouldDenyOutcome)
            || (record.Decision == "deny" && record.Reason != "policy")
            || !SpiffeId.TryParse(record.SpiffeId ?? string.Empty, out var local, out _)
            || !SpiffeId.TryParse(record.PeerSpiffeId ?? string.Empty, out var peer, out _))
        {
            return null;
        }

        if (record.Direction == "outbound")
        {
            var selectors = new HashSet<string>(StringComparer.Ordinal);
            if (record.Process is { } process)
            {
                selectors.Add(string.Create(CultureInfo.InvariantCulture, $"unix:uid:{process.Uid}"));
                selectors.Add(string.Create(CultureInfo.InvariantCulture, $"unix:gid:{process.Gid}"));
            }

            return new PolicyRequest(local, selectors, peer, Port(record.Remote));
        }

        return record.Direction == "inbound" ? new PolicyRequest(peer, new HashSet<string>(), local, 0) : null;
    }

    private static int Port(string? remote) =>
        remote is not null && Endpoints.TryParseDial(remote, out var address, out _) ? address.Port : 0;

    private sealed class Flow(string was, string wasRule, string now, string nowRule)
    {
        public string Was { get; } = was;

        public string WasRule { get; } = wasRule;

        public string Now { get; } = now;

        public string NowRule { get; } = nowRule;

        public int Count { get; set; }
    }
}
