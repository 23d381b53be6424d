using System.CommandLine;
using System.Globalization;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary><c>anchorage entry count</c>: how many entries the server holds.</summary>
internal static class CountCommand
{
    public static Command Create(CliContext context) => AdminQueryCommand.Create(
        context,
        "count",
        "count registration entries",
        (c, o) => c.CountEntriesAsync(new CountEntriesRequest(), o),
        (w, response) => w.WriteLine(response.Count.ToString(CultureInfo.InvariantCulture)));
}
