using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Token;

/// <summary>
/// <c>anchorage token generate [--ttl D] [--spiffe-id ID]</c>: a one-time join token for a new
/// agent. Prints the token alone; with <c>--output json</c> also its id, expiry and the agent
/// SPIFFE ID it will yield.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliContext context)
    {
        var ttl = new Option<string?>("--ttl") { Description = "how long the token can be redeemed, e.g. 10m (default: the server's)" };
        var spiffeId = new Option<string?>("--spiffe-id") { Description = "an alias SPIFFE ID for the node that redeems it" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("generate", "generate a join token for an agent; prints the token") { ttl, spiffeId, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new GenerateJoinTokenRequest();
            if (parse.GetValue(ttl) is { } text)
            {
                request.TtlSeconds = (long)Durations.Parse("--ttl", text).TotalSeconds;
            }

            if (parse.GetValue(spiffeId) is { } id)
            {
                request.SpiffeId = Identifiers.SpiffeId("--spiffe-id", id);
            }

            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.GenerateJoinTokenAsync(request, o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                ProtoJson.Write(context.Out, response);
            }
            else
            {
                await context.Out.WriteLineAsync(response.Token).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
