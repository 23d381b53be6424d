using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary>
/// <c>anchorage entry list [--parent-id ID] [--spiffe-id ID] [--selector S] [--federates-with TD]</c>:
/// every matching entry, following page tokens to the end.
/// </summary>
internal static class ListCommand
{
    /// <summary>How many entries one page asks for.</summary>
    internal const int PageSize = 500;

    public static Command Create(CliContext context)
    {
        var parentId = new Option<string?>("--parent-id") { Description = "only entries under this parent ID" };
        var spiffeId = new Option<string?>("--spiffe-id") { Description = "only entries with this SPIFFE ID" };
        var selector = new Option<string?>("--selector") { Description = "only entries with this type:value selector" };
        var federatesWith = new Option<string?>("--federates-with") { Description = "only entries federating with this trust domain" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("list", "list registration entries") { parentId, spiffeId, selector, federatesWith, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new ListEntriesRequest { PageSize = PageSize };
            if (parse.GetValue(parentId) is { } parent)
            {
                request.ParentId = Identifiers.SpiffeId("--parent-id", parent);
            }

            if (parse.GetValue(spiffeId) is { } id)
            {
                request.SpiffeId = Identifiers.SpiffeId("--spiffe-id", id);
            }

            if (parse.GetValue(selector) is { } s)
            {
                request.Selector = Identifiers.Selector("--selector", s);
            }

            if (parse.GetValue(federatesWith) is { } td)
            {
                request.FederatesWith = Identifiers.TrustDomain("--federates-with", td);
            }

            using var admin = AdminConnection.Open(parse, socket);
            var all = new ListEntriesResponse();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            do
            {
                var page = await admin.CallAsync((c, o) => c.ListEntriesAsync(request, o), cancellationToken).ConfigureAwait(false);
                all.Entries.AddRange(page.Entries);

                // A server that hands back a token it already gave would loop forever.
                if (page.NextPageToken.Length > 0 && !seen.Add(page.NextPageToken))
                {
                    throw CliException.Usage($"the server repeated page token \"{page.NextPageToken}\"");
                }

                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0);

            if (parse.GetValue(output) == OutputFormat.Json)
            {
                ProtoJson.Write(context.Out, all);
            }
            else
            {
                EntryOutput.WriteTable(context.Out, all.Entries);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
