using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation list</c>: every relationship with its governance status (flags computed by the server).</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context) => AdminQueryCommand.Create(
        context,
        "list",
        "list federation relationships: owner, freshness, sequence, flags",
        (c, o) => c.ListFederationsAsync(new ListFederationsRequest(), o),
        (w, response) => FederationOutput.WriteTable(w, response.Federations, context.Time.GetUtcNow()),
        (w, response) => FederationOutput.WriteJson(w, response.Federations, context.Time.GetUtcNow()));
}
