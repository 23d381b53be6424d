using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary><c>anchorage agent list</c>: every attested agent.</summary>
internal static class ListCommand
{
    public static Command Create(CliContext context) => AdminQueryCommand.Create(
        context,
        "list",
        "list attested agents",
        (c, o) => c.ListAgentsAsync(new ListAgentsRequest(), o),
        (w, response) => AgentOutput.WriteTable(w, response.Agents));
}
