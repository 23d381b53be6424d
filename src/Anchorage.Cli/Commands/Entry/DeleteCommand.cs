using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary><c>anchorage entry delete ID</c>: removes an entry.</summary>
internal static class DeleteCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the entry id" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("delete", "delete a registration entry") { id, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new DeleteEntryRequest { Id = Identifiers.EntryId(parse.GetRequiredValue(id)) };
            using var admin = AdminConnection.Open(parse, socket);
            await admin.CallAsync((c, o) => c.DeleteEntryAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"deleted entry {request.Id}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
