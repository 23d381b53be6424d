using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent evict ID</c>: forgets an agent; it must attest again (and can, unlike a
/// banned one).
/// </summary>
internal static class EvictCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the agent's SPIFFE ID" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("evict", "evict an agent so that it must attest again") { id, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new EvictAgentRequest { SpiffeId = Identifiers.SpiffeId("agent ID", parse.GetRequiredValue(id)) };
            using var admin = AdminConnection.Open(parse, socket);
            await admin.CallAsync((c, o) => c.EvictAgentAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"evicted agent {request.SpiffeId}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
