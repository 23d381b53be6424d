using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary><c>anchorage agent list</c>: every attested agent.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context)
    {
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("list", "list attested agents") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.ListAgentsAsync(new ListAgentsRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                ProtoJson.Write(context.Out, response);
            }
            else
            {
                AgentOutput.WriteTable(context.Out, response.Agents);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
