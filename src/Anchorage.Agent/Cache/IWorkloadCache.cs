using Anchorage.Foundation.Selectors;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.WorkloadApi.Server;

namespace Anchorage.Agent.Cache;

/// <summary>
/// The agent's view of the identities this node may hold, as the Workload API (and later the gate)
/// reads it: which SVIDs and bundles a set of workload selectors gets, and JWT-SVIDs on demand.
/// </summary>
public interface IWorkloadCache
{
    /// <summary>
    /// The snapshot for a workload with <paramref name="selectors"/>: the X.509-SVIDs of every entry
    /// whose selectors are all among them (default first), the own bundle and the federated bundles
    /// those entries name. Its <see cref="WorkloadIdentity.Changed"/> fires when the cache changes.
    /// </summary>
    /// <param name="caller">A stable key of the calling process (e.g. <c>pid:1234</c>).</param>
    /// <param name="selectors">The caller's selectors from workload attestation.</param>
    /// <returns>null when no entry matches, or none of the matching entries has an SVID yet and none ever will.</returns>
    WorkloadIdentity? Resolve(string caller, IReadOnlyCollection<Selector> selectors);

    /// <summary>Mints one JWT-SVID per id in <paramref name="spiffeIds"/> (all held by <paramref name="identity"/>), in order.</summary>
    /// <exception cref="Grpc.Core.RpcException">The server could not be reached (Unavailable) or refused.</exception>
    ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity, IReadOnlyList<SpiffeId> spiffeIds, IReadOnlyList<string> audience, CancellationToken cancellationToken);
}
