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
            var agents = await admin.CallAsync((c, o) => c.ListAgentsAsync(new ListAgentsRequest(), o), cancellationToken).ConfigureAwait(false);
            var serverId = $"spiffe://{server.TrustDomain}{AnchorageIds.ServerPath}";
            var ancestors = await AncestorsAsync(admin, federating, agents.Agents, serverId, cancellationToken).ConfigureAwait(false);
            var policy = await PolicyAsync(admin, cancellationToken).ConfigureAwait(false);
            var map = FederationMapView.Create(td, status, federating, ancestors, agents.Agents, policy, serverId);
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

    // The entries whose SPIFFE ID is a parent on the way up from the federating entries (node aliases,
    // nested entries), level by level as FederationMapView walks them, each ID asked once.
    private static async Task<List<ProtoEntry>> AncestorsAsync(
        AdminConnection admin, List<ProtoEntry> federating, IReadOnlyList<AgentInfo> agents, string serverId, CancellationToken cancellationToken)
    {
        var ancestors = new List<ProtoEntry>();
        var asked = new HashSet<string>(StringComparer.Ordinal);
        var pending = FederationMapView.ParentsToLookUp(federating.Select(e => e.ParentId), agents, serverId).ToList();
        for (var depth = 1; depth <= FederationMapView.MaxDepth && pending.Count > 0; depth++)
        {
            var found = new List<ProtoEntry>();
            foreach (var id in pending.Where(asked.Add))
            {
                found.AddRange(await ListEntriesAsync(admin, new ListEntriesRequest { SpiffeId = id }, cancellationToken).ConfigureAwait(false));
            }

            ancestors.AddRange(found);
            pending = [.. FederationMapView.ParentsToLookUp(found.Where(e => e.ParentId != serverId).Select(e => e.ParentId), agents, serverId)];
        }

        return ancestors;
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
