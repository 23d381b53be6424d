using System.CommandLine;
using System.Text.Json;
using Anchorage.Cli.Internal;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api fetch jwt --audience A [--audience B] [--spiffe-id ID] [--socket PATH]
/// [--output json]</c>: prints one JWT-SVID per line (the default identity first).
/// </summary>
internal static class ApiFetchJwtCommand
{
    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var audience = new Option<string[]>("--audience") { Description = "an audience for the token; repeatable", Required = true, Arity = ArgumentArity.OneOrMore };
        var spiffeId = new Option<string?>("--spiffe-id") { Description = "only this identity's token (default: one per identity)" };
        var output = OutputOption.Create();
        var command = new Command("jwt", "fetch JWT-SVIDs for an audience") { socket, audience, spiffeId, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            SpiffeId? id = null;
            if (parse.GetValue(spiffeId) is { } text)
            {
                id = SpiffeId.TryParse(text, out var parsed, out var error)
                    ? parsed
                    : throw CliException.Usage($"--spiffe-id: {error}");
            }

            using var client = WorkloadApiConnection.Open(parse, socket, context);
            var svids = await WorkloadApiConnection.CallAsync(client, c => c.FetchJwtSvidsAsync(parse.GetRequiredValue(audience), id, cancellationToken)).ConfigureAwait(false);

            if (parse.GetValue(output) == OutputFormat.Json)
            {
                var json = svids.Select(s => new { spiffeId = s.Id.ToString(), hint = s.Hint ?? string.Empty, expiresAt = WorkloadApiConnection.Time(s.Expiry), token = s.Token });
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(json, JsonOptions.Indented)).ConfigureAwait(false);
            }
            else
            {
                foreach (var svid in svids)
                {
                    await context.Out.WriteLineAsync(svid.Token).ConfigureAwait(false);
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
