using System.CommandLine;
using System.Text.Json.Nodes;
using Anchorage.Cli.Internal;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api fetch jwt-bundles [--socket PATH] [--output json]</c>: the JWT bundles
/// the caller may use; a line per trust domain with its key ids, or (json) each as a JWK Set.
/// </summary>
internal static class ApiFetchJwtBundlesCommand
{
    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var output = OutputOption.Create();
        var command = new Command("jwt-bundles", "fetch the JWT bundles") { socket, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = WorkloadApiConnection.Open(parse, socket, context);
            var bundles = await WorkloadApiConnection.CallAsync(client, c => c.FetchJwtBundlesAsync(cancellationToken)).ConfigureAwait(false);

            if (parse.GetValue(output) == OutputFormat.Json)
            {
                var json = new JsonObject();
                foreach (var (trustDomain, bundle) in bundles.JwtBundles.OrderBy(b => b.Key))
                {
                    json[trustDomain.IdString] = JsonNode.Parse(new SpiffeBundle(trustDomain, [], bundle.Authorities).ToUtf8Json());
                }

                await context.Out.WriteLineAsync(json.ToJsonString(JsonOptions.Indented)).ConfigureAwait(false);
            }
            else
            {
                foreach (var (trustDomain, bundle) in bundles.JwtBundles.OrderBy(b => b.Key))
                {
                    var ids = bundle.Authorities.IsEmpty ? "(none)" : string.Join(", ", bundle.Authorities.Select(a => a.KeyId));
                    await context.Out.WriteLineAsync($"{trustDomain.IdString}  keys: {ids}").ConfigureAwait(false);
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
