using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation list</c>: every relationship with its governance status (flags computed by the server).</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context)
    {
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("list", "list federation relationships: owner, freshness, sequence, flags") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.ListFederationsAsync(new ListFederationsRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                FederationOutput.WriteJson(context.Out, response.Federations, context.Time.GetUtcNow());
            }
            else
            {
                FederationOutput.WriteTable(context.Out, response.Federations, context.Time.GetUtcNow());
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
