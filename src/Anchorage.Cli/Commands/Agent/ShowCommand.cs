using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary><c>anchorage agent show ID</c>: one agent, with its selectors.</summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the agent's SPIFFE ID" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", "show one attested agent") { id, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new GetAgentRequest { SpiffeId = Identifiers.SpiffeId("agent ID", parse.GetRequiredValue(id)) };
            using var admin = AdminConnection.Open(parse, socket);
            var agent = await admin.CallAsync((c, o) => c.GetAgentAsync(request, o), cancellationToken).ConfigureAwait(false);
            AgentOutput.Write(context.Out, agent, parse.GetValue(output));
            return ExitCodes.Success;
        });
        return command;
    }
}
