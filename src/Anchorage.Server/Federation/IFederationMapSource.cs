using Anchorage.Protos.Admin.V1;

namespace Anchorage.Server.Federation;

/// <summary>
/// The admin API reads <see cref="FederationMapView.LoadAsync"/> builds a map from: the CLI answers
/// them over the admin socket, the web console in-process from the admin service itself, so both
/// show the same map from one builder.
/// </summary>
public interface IFederationMapSource
{
    /// <summary>The relationship's status (admin <c>GetFederation</c>); fails when there is none.</summary>
    Task<Protos.Admin.V1.FederationStatus> GetFederationAsync(GetFederationRequest request, CancellationToken cancellationToken);

    /// <summary>The server's own description (admin <c>GetServerInfo</c>).</summary>
    Task<ServerInfo> GetServerInfoAsync(CancellationToken cancellationToken);

    /// <summary>One page of entries (admin <c>ListEntries</c>).</summary>
    Task<ListEntriesResponse> ListEntriesAsync(ListEntriesRequest request, CancellationToken cancellationToken);

    /// <summary>Every attested agent (admin <c>ListAgents</c>).</summary>
    Task<ListAgentsResponse> ListAgentsAsync(CancellationToken cancellationToken);

    /// <summary>The stored policy (admin <c>GetPolicy</c>); null when none was ever applied.</summary>
    Task<Protos.Common.V1.Policy?> GetPolicyAsync(CancellationToken cancellationToken);
}
