using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary><c>anchorage agent ban ID</c>: refuses the agent from now on, even if it attests again.</summary>
internal static class BanCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the agent's SPIFFE ID" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("ban", "ban an agent") { id, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new BanAgentRequest { SpiffeId = Identifiers.SpiffeId("agent ID", parse.GetRequiredValue(id)) };
            using var admin = AdminConnection.Open(parse, socket);
            await admin.CallAsync((c, o) => c.BanAgentAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"banned agent {request.SpiffeId}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
