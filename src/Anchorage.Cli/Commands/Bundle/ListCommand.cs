using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary><c>anchorage bundle list</c>: every bundle the server holds, its own and federated ones.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context) => AdminQueryCommand.Create(
        context,
        "list",
        "list the trust bundles the server holds",
        (c, o) => c.ListBundlesAsync(new ListBundlesRequest(), o),
        (w, response) => BundleOutput.WriteTable(w, response.Bundles));
}
