using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Federation;
using Grpc.Core;
using FederationStatus = Anchorage.Protos.Admin.V1.FederationStatus;

namespace Anchorage.Cli.Commands.Federation;

/// <summary>
/// <c>anchorage federation map TD [--output table|json|mermaid]</c>: the enforcement map of one
/// federated trust domain (issue 15 item 4), see <see cref="FederationMapView"/>, read over the admin socket.
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
            FederationMapView map;
            try
            {
                map = await FederationMapView.LoadAsync(new AdminSource(admin), td, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw CliException.Usage(e.Message);
            }

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

    // The map's reads over the admin socket; a refusal becomes the CLI's one-line error.
    private sealed class AdminSource(AdminConnection admin) : IFederationMapSource
    {
        public Task<FederationStatus> GetFederationAsync(GetFederationRequest request, CancellationToken cancellationToken) =>
            admin.CallAsync((c, o) => c.GetFederationAsync(request, o), cancellationToken);

        public Task<ServerInfo> GetServerInfoAsync(CancellationToken cancellationToken) =>
            admin.CallAsync((c, o) => c.GetServerInfoAsync(new GetServerInfoRequest(), o), cancellationToken);

        public Task<ListEntriesResponse> ListEntriesAsync(ListEntriesRequest request, CancellationToken cancellationToken) =>
            admin.CallAsync((c, o) => c.ListEntriesAsync(request, o), cancellationToken);

        public Task<ListAgentsResponse> ListAgentsAsync(CancellationToken cancellationToken) =>
            admin.CallAsync((c, o) => c.ListAgentsAsync(new ListAgentsRequest(), o), cancellationToken);

        public async Task<Protos.Common.V1.Policy?> GetPolicyAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await admin.Client.GetPolicyAsync(
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
        }
    }
}
