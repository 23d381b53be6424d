using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary><c>anchorage bundle list</c>: every bundle the server holds, its own and federated ones.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context)
    {
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("list", "list the trust bundles the server holds") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.ListBundlesAsync(new ListBundlesRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                ProtoJson.Write(context.Out, response);
            }
            else
            {
                BundleOutput.WriteTable(context.Out, response.Bundles);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
