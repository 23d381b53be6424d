using System.CommandLine;
using System.Globalization;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary><c>anchorage entry count</c>: how many entries the server holds.</summary>
internal static class CountCommand
{
    public static Command Create(CliContext context)
    {
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("count", "count registration entries") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.CountEntriesAsync(new CountEntriesRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                ProtoJson.Write(context.Out, response);
            }
            else
            {
                await context.Out.WriteLineAsync(response.Count.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
