using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Ids;
using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;
using ProtoEntry = Anchorage.Protos.Common.V1.Entry;

namespace Anchorage.Cli.Commands.Federation;

/// <summary>
/// <c>anchorage federation map TD [--output table|json|mermaid]</c>: the enforcement map of one
/// federated trust domain (issue 15 item 4), see <see cref="FederationMapView"/>.
/// </summary>
internal static class MapCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var output = OutputOption.WithMermaid();
        var socket = AdminConnection.SocketOption();
        var command = new Command("map", "where a federated trust domain's IDs are validated, which entries, nodes and policy rules involve it, and which gates saw its traffic")
        {
            trustDomain, output, socket,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var td = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain));
            using var admin = AdminConnection.Open(parse, socket);
            var status = await admin.CallAsync((c, o) => c.GetFederationAsync(new GetFederationRequest { TrustDomain = td }, o), cancellationToken).ConfigureAwait(false);
            var server = await admin.CallAsync((c, o) => c.GetServerInfoAsync(new GetServerInfoRequest(), o), cancellationToken).ConfigureAwait(false);
            var federating = await ListEntriesAsync(admin, new ListEntriesRequest { FederatesWith = td }, cancellationToken).ConfigureAwait(false);
            var aliases = await ListEntriesAsync(admin, new ListEntriesRequest { ParentId = $"spiffe://{server.TrustDomain}{AnchorageIds.ServerPath}" }, cancellationToken).ConfigureAwait(false);
            var agents = await admin.CallAsync((c, o) => c.ListAgentsAsync(new ListAgentsRequest(), o), cancellationToken).ConfigureAwait(false);
            var policy = await PolicyAsync(admin, cancellationToken).ConfigureAwait(false);
            var map = FederationMapView.Create(td, status, federating, aliases, agents.Agents, policy);
            switch (parse.GetValue(output))
            {
                case OutputFormat.Json:
                    FederationMapOutput.WriteJson(context.Out, map);
                    break;
                case OutputFormat.Mermaid:
                    FederationMapOutput.WriteMermaid(context.Out, map);
                    break;
                default:
                    FederationMapOutput.WriteTable(context.Out, map);
                    break;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<List<ProtoEntry>> ListEntriesAsync(AdminConnection admin, ListEntriesRequest request, CancellationToken cancellationToken)
    {
        var all = new List<ProtoEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        do
        {
            var page = await admin.CallAsync((c, o) => c.ListEntriesAsync(request, o), cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Entries);

            // A server that hands back a token it already gave would loop forever.
            if (page.NextPageToken.Length > 0 && !seen.Add(page.NextPageToken))
            {
                throw CliException.Usage($"the server repeated page token \"{page.NextPageToken}\"");
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);
        return all;
    }

    // The stored policy, parsed; null when none was ever applied.
    private static async Task<CommunicationPolicy?> PolicyAsync(AdminConnection admin, CancellationToken cancellationToken)
    {
        Protos.Common.V1.Policy stored;
        try
        {
            stored = await admin.Client.GetPolicyAsync(
                new GetPolicyRequest(),
                new CallOptions(deadline: TimeProvider.System.GetUtcNow().UtcDateTime + AdminConnection.CallTimeout, cancellationToken: cancellationToken)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
        catch (RpcException e)
        {
            throw AdminConnection.ToCliException(e, admin.SocketPath);
        }

        var parsed = PolicyDocument.Parse(stored.Yaml, "stored policy");
        return parsed.IsValid
            ? parsed.Value
            : throw CliException.Usage("the stored policy cannot be read by this version of anchorage: " + parsed.ErrorLines.First());
    }
}
