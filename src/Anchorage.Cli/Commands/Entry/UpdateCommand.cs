using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary>
/// <c>anchorage entry update ID [entry flags]</c>: fetches the entry, changes only the fields
/// whose flags are given (a repeatable flag replaces the whole list), sends it back with the
/// fetched revision, and shows the result.
/// </summary>
internal static class UpdateCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the entry id" };
        var flags = new EntryFlags();
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("update", "change the given fields of an entry") { id };
        flags.AddTo(command);
        command.Add(output);
        command.Add(socket);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var entryId = Identifiers.EntryId(parse.GetRequiredValue(id));
            if (!flags.Given(parse).Any())
            {
                throw CliException.Usage("nothing to update: give at least one entry flag");
            }

            // Validate the flags before any call, on a scratch entry.
            flags.Apply(parse, new Protos.Common.V1.Entry());
            using var admin = AdminConnection.Open(parse, socket);
            var entry = await admin.CallAsync((c, o) => c.GetEntryAsync(new GetEntryRequest { Id = entryId }, o), cancellationToken).ConfigureAwait(false);
            flags.Apply(parse, entry);
            var updated = await admin.CallAsync((c, o) => c.UpdateEntryAsync(new UpdateEntryRequest { Entry = entry }, o), cancellationToken).ConfigureAwait(false);
            ShowCommand.Write(context.Out, updated, parse.GetValue(output));
            return ExitCodes.Success;
        });
        return command;
    }
}
