using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.Federation;
using Grpc.Core;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>
/// The federation map's reads answered in-process by the admin service, the same methods
/// <c>anchorage federation map</c> calls over the admin socket.
/// </summary>
internal sealed class ConsoleMapSource(AdminApiService admin) : IFederationMapSource
{
    public Task<Protos.Admin.V1.FederationStatus> GetFederationAsync(GetFederationRequest request, CancellationToken cancellationToken) =>
        admin.GetFederation(request, Context("GetFederation", cancellationToken));

    public Task<ServerInfo> GetServerInfoAsync(CancellationToken cancellationToken) =>
        admin.GetServerInfo(new GetServerInfoRequest(), Context("GetServerInfo", cancellationToken));

    public Task<ListEntriesResponse> ListEntriesAsync(ListEntriesRequest request, CancellationToken cancellationToken) =>
        admin.ListEntries(request, Context("ListEntries", cancellationToken));

    public Task<ListAgentsResponse> ListAgentsAsync(CancellationToken cancellationToken) =>
        admin.ListAgents(new ListAgentsRequest(), Context("ListAgents", cancellationToken));

    public async Task<Protos.Common.V1.Policy?> GetPolicyAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await admin.GetPolicy(new GetPolicyRequest(), Context("GetPolicy", cancellationToken)).ConfigureAwait(false);
        }
        catch (ApiException e) when (e.Code == StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The context of one in-process admin read.</summary>
    public static ConsoleCallContext Context(string method, CancellationToken ct) => new("/anchorage.admin.v1.AdminApi/" + method, ct);
}
