using System.CommandLine;
using System.Globalization;
using Anchorage.Foundation.Config;
using Anchorage.Policy;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Cli.Commands.Policy;

/// <summary>
/// <c>anchorage policy check --policy FILE --from ID [--selector S]... [--origin KEY=VALUE]... --to ID [--port N] [--explain]</c>:
/// decides one connection against a policy file, offline, exactly as the gates do. Prints
/// <c>allow &lt;rule&gt;</c> (exit 0) or <c>deny &lt;rule|default&gt;</c> (exit 1), or for a policy
/// with <c>spec.mode: audit</c> <c>would-deny &lt;rule|default&gt;</c> (exit 0: the gates let it
/// through and record it); an invalid policy
/// prints every error with its line and key path on stderr (exit 2). Without <c>--port</c>, rules
/// that name a port do not match; without <c>--selector</c>, rules that need selectors do not
/// match (as at the inbound gate, where the peer's process is unknown); without <c>--origin</c>,
/// rules with <c>from.origin</c> do not match (as for a connection without verified provenance).
/// <c>--origin</c> gives the verified origin of an inbound tunnel stream: <c>sha256=HEX</c>,
/// <c>path=/usr/bin/web</c>, <c>uid=1000</c>.
/// </summary>
internal static class PolicyCheckCommand
{
    public static Command Create(CliContext context)
    {
        var policy = new Option<string>("--policy") { Description = "the CommunicationPolicy YAML file", Required = true };
        var from = new Option<string>("--from") { Description = "SPIFFE ID of the side opening the connection", Required = true };
        var selectors = new Option<string[]>("--selector")
        {
            Description = "a selector of the connecting process (type:value, e.g. unix:uid:1000); repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var origin = new Option<string[]>("--origin")
        {
            Description = "the verified origin of an inbound tunnel stream: sha256=HEX, path=/usr/bin/web or uid=N; repeatable",
            AllowMultipleArgumentsPerToken = false,
        };
        var to = new Option<string>("--to") { Description = "SPIFFE ID of the side accepting it", Required = true };
        var port = new Option<int?>("--port") { Description = "destination port (1-65535)" };
        var explain = new Option<bool>("--explain") { Description = "list the rules naming either ID and why each matched or not" };
        var command = new Command("check", "decide one connection against a policy file: prints allow <rule>, deny <rule|default> or (spec.mode: audit) would-deny <rule|default>")
        {
            policy, from, selectors, origin, to, port, explain,
        };
        command.SetAction(parse =>
        {
            var request = new PolicyRequest(
                ParseId(parse.GetRequiredValue(from), "--from"),
                ParseSelectors(parse.GetValue(selectors) ?? [], parse.GetValue(origin) ?? []),
                ParseId(parse.GetRequiredValue(to), "--to"),
                ParsePort(parse.GetValue(port)));
            var compiled = Load(parse.GetRequiredValue(policy));
            if (parse.GetValue(explain))
            {
                var explanation = compiled.Explain(request);
                context.Out.WriteLine(explanation.Decision.ToString());
                WriteExplanation(context.Out, compiled, explanation, request);
                return explanation.Decision.Allowed ? ExitCodes.Success : ExitCodes.Rejected;
            }

            var decision = compiled.Decide(request);
            context.Out.WriteLine(decision.ToString());
            return decision.Allowed ? ExitCodes.Success : ExitCodes.Rejected;
        });
        return command;
    }

    internal static CompiledPolicy Load(string path)
    {
        string? text = null;
        var result = ConfigFile.Load(path, (yaml, source) =>
        {
            text = yaml;
            return PolicyDocument.Parse(yaml, source);
        });
        if (!result.IsValid)
        {
            throw new CliException(ExitCodes.UsageOrIo, string.Join('\n', result.ErrorLines.Select(line => "error: " + line)));
        }

        return CompiledPolicy.Compile(result.Value, PolicyDocument.ContentVersion(text!));
    }

    private static SpiffeId ParseId(string text, string option) =>
        SpiffeId.TryParse(text, out var id, out var error)
            ? id
            : throw CliException.Usage($"{option} {ConfigText.Quote(text)} is not a valid SPIFFE ID: {error}");

    private static HashSet<string> ParseSelectors(string[] values, string[] origin)
    {
        foreach (var value in values)
        {
            if (!FromMatch.IsSelector(value))
            {
                throw CliException.Usage($"--selector {ConfigText.Quote(value)} is not a selector (type:value, e.g. unix:uid:1000)");
            }

            if (OriginMatch.IsOriginSelector(value))
            {
                throw CliException.Usage($"--selector {ConfigText.Quote(value)}: give the verified origin with --origin key=value");
            }
        }

        var all = new HashSet<string>(values, StringComparer.Ordinal);
        string? sha256 = null;
        string? path = null;
        uint? uid = null;
        foreach (var pair in origin)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = equals > 0 ? (pair[..equals], pair[(equals + 1)..]) : (pair, string.Empty);
            switch (key)
            {
                case "sha256" when value.Length == 64 && value.All(char.IsAsciiHexDigitLower):
                    sha256 = value;
                    break;
                case "path" when value.StartsWith('/'):
                    path = value;
                    break;
                case "uid" when uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id):
                    uid = id;
                    break;
                default:
                    throw CliException.Usage($"--origin {ConfigText.Quote(pair)} is not sha256=HEX (64 lowercase hex digits), path=/absolute/path or uid=N");
            }
        }

        if (origin.Length > 0)
        {
            all.UnionWith(new OriginMatch(sha256, path, uid).Selectors);
        }

        return all;
    }

    private static int ParsePort(int? port) => port switch
    {
        null => 0,
        >= 1 and <= 65535 => port.Value,
        _ => throw CliException.Usage(string.Create(CultureInfo.InvariantCulture, $"--port {port} is not a port (a number from 1 to 65535)")),
    };

    private static void WriteExplanation(TextWriter output, CompiledPolicy policy, PolicyExplanation explanation, in PolicyRequest request)
    {
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"policy {policy.Name} version {policy.Version}: {explanation.RuleCount} rules, {explanation.Considered.Count} naming {request.From} or {request.To}"));
        foreach (var evaluation in explanation.Considered)
        {
            var rule = evaluation.Rule;
            var action = rule.Action == PolicyAction.Deny ? "deny" : "allow";
            var outcome = !evaluation.Matched
                ? string.Join("; ", evaluation.Failures)
                : string.Equals(rule.Name, explanation.Decision.Rule, StringComparison.Ordinal)
                    ? rule.Action == PolicyAction.Deny ? "matched; decides (a deny wins)" : "matched; decides (first matching allow, no deny matched)"
                    : rule.Action == PolicyAction.Deny ? "matched (an earlier deny decides)" : "matched (not deciding)";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{evaluation.Index}] {action} {rule.Name}: {outcome}"));
        }

        if (explanation.Decision.Outcome != PolicyDecision.AllowOutcome && explanation.Decision.Rule == PolicyDecision.DefaultRule)
        {
            output.WriteLine("  no rule matched: denied by default");
        }

        if (explanation.Decision.WouldDeny)
        {
            output.WriteLine("  the policy's spec.mode is audit: the gates let the connection through and record would-deny");
        }
    }
}
