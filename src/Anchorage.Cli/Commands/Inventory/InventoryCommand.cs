using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Inventory;

/// <summary>
/// <c>anchorage inventory [--output table|json|mermaid]</c>: the local trust domain (its
/// authorities, bundle sequence and bundle endpoint) and every federation relationship as
/// <c>federation list</c> shows it, in one view for reviews and diagrams.
/// </summary>
internal static class InventoryCommand
{
    public static Command Create(CliContext context)
    {
        var output = OutputOption.WithMermaid();
        var socket = AdminConnection.SocketOption();
        var command = new Command("inventory", "the local trust domain and its federation relationships: table, json or a mermaid graph") { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var server = await admin.CallAsync((c, o) => c.GetServerInfoAsync(new GetServerInfoRequest(), o), cancellationToken).ConfigureAwait(false);
            var authorities = await admin.CallAsync((c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest(), o), cancellationToken).ConfigureAwait(false);
            var bundle = await admin.CallAsync((c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
            var federations = await admin.CallAsync((c, o) => c.ListFederationsAsync(new ListFederationsRequest(), o), cancellationToken).ConfigureAwait(false);
            var inventory = new InventoryView(server, authorities.Authorities, bundle.Sequence, federations.Federations);
            var now = context.Time.GetUtcNow();
            switch (parse.GetValue(output))
            {
                case OutputFormat.Json:
                    InventoryOutput.WriteJson(context.Out, inventory, now);
                    break;
                case OutputFormat.Mermaid:
                    InventoryOutput.WriteMermaid(context.Out, inventory);
                    break;
                default:
                    InventoryOutput.WriteTable(context.Out, inventory, now);
                    break;
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
