using System.CommandLine;
using System.Text.Json;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Json;
using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Policy;

/// <summary>
/// <c>anchorage policy show [--output yaml|json]</c>: the trust domain's communication policy.
/// <c>yaml</c> (default) prints the text exactly as applied; <c>json</c> prints
/// <c>{name, version, updatedAt, mode, rules: [{name, action, from: {spiffeId|trustDomain, selectors},
/// to: {spiffeId|trustDomain, port}}]}</c>, <c>updatedAt</c> RFC 3339 UTC and <c>port</c> null when
/// the rule names none. No policy applied: exit 1, <c>error: no policy has been applied</c>.
/// </summary>
internal static class PolicyShowCommand
{
    private enum Format
    {
        Yaml,
        Json,
    }

    public static Command Create(CliContext context)
    {
        var output = OutputOption.Of("output format: yaml (default, the text as applied) or json", ("yaml", Format.Yaml), ("json", Format.Json));
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", "show the trust domain's communication policy") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var policy = await admin.CallAsync((c, o) => c.GetPolicyAsync(new GetPolicyRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == Format.Yaml)
            {
                await context.Out.WriteAsync(policy.Yaml.EndsWith('\n') ? policy.Yaml : policy.Yaml + "\n").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var parsed = PolicyDocument.Parse(policy.Yaml, "stored policy");
            if (!parsed.IsValid)
            {
                // Only a server newer than this CLI can store what the CLI cannot read.
                throw CliException.Usage("the stored policy cannot be read by this version of anchorage: " + parsed.ErrorLines.First());
            }

            FederationOutput.Write(context.Out, w => WriteJson(w, policy, parsed.Value));
            return ExitCodes.Success;
        });
        return command;
    }

    private static void WriteJson(Utf8JsonWriter w, Protos.Common.V1.Policy stored, CommunicationPolicy policy)
    {
        w.WriteStartObject();
        w.WriteString("name", stored.Name);
        w.WriteNumber("version", stored.Version);
        w.WriteString("updatedAt", Tables.Time(stored.UpdatedAt));
        w.WriteString("mode", policy.Mode == PolicyMode.Audit ? "audit" : "enforce");
        w.WriteStartArray("rules");
        foreach (var rule in policy.Rules)
        {
            w.WriteStartObject();
            w.WriteString("name", rule.Name);
            w.WriteString("action", rule.Action == PolicyAction.Deny ? "deny" : "allow");
            w.WriteStartObject("from");
            WriteIdentity(w, rule.From.Identity);
            w.WriteStrings("selectors", rule.From.Selectors);
            if (rule.From.Origin is { } origin)
            {
                w.WriteStartObject("origin");
                if (origin.Sha256 is not null)
                {
                    w.WriteString("sha256", origin.Sha256);
                }

                if (origin.Path is not null)
                {
                    w.WriteString("path", origin.Path);
                }

                if (origin.Uid is { } uid)
                {
                    w.WriteNumber("uid", uid);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("to");
            WriteIdentity(w, rule.To.Identity);
            w.WriteNumberOrNull("port", rule.To.Port);

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteIdentity(Utf8JsonWriter w, IdentityPattern pattern)
    {
        switch (pattern)
        {
            case IdentityPattern.InTrustDomain td:
                w.WriteString("trustDomain", td.TrustDomain.Name);
                break;
            default:
                // Exact IDs print as themselves, prefixes as spiffe://td/path/*.
                w.WriteString("spiffeId", pattern.ToString());
                break;
        }
    }
}
