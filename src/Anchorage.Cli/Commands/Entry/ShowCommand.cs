using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary><c>anchorage entry show ID</c>: one entry, every field.</summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("ID") { Description = "the entry id" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", "show one registration entry") { id, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new GetEntryRequest { Id = Identifiers.EntryId(parse.GetRequiredValue(id)) };
            using var admin = AdminConnection.Open(parse, socket);
            var entry = await admin.CallAsync((c, o) => c.GetEntryAsync(request, o), cancellationToken).ConfigureAwait(false);
            Write(context.Out, entry, parse.GetValue(output));
            return ExitCodes.Success;
        });
        return command;
    }

    internal static void Write(TextWriter writer, Protos.Common.V1.Entry entry, OutputFormat format)
    {
        if (format == OutputFormat.Json)
        {
            ProtoJson.Write(writer, entry);
        }
        else
        {
            EntryOutput.WriteFields(writer, entry);
        }
    }
}
