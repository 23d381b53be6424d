using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Grpc.Core;

namespace Anchorage.WorkloadApi.Server;

/// <summary>
/// What the Workload API asks of its host (the agent's workload cache): who is calling, what
/// they may have, and JWT-SVIDs on demand. The service never attests callers itself.
/// </summary>
public interface IWorkloadIdentityProvider
{
    /// <summary>
    /// Resolves the calling workload (e.g. from the Unix socket peer credentials of
    /// <paramref name="context"/>) to its current identity snapshot.
    /// </summary>
    /// <returns>The snapshot, or null when the caller has no identity at all (answered with
    /// PermissionDenied, SPIFFE Workload Endpoint §6).</returns>
    ValueTask<WorkloadIdentity?> ResolveAsync(ServerCallContext context, CancellationToken cancellationToken);

    /// <summary>
    /// Mints JWT-SVIDs for <paramref name="audience"/>: one per identity in
    /// <paramref name="spiffeIds"/> (already checked to belong to <paramref name="identity"/>),
    /// in that order (Workload API §6.2.1). Hints should be set from the identities' hints.
    /// </summary>
    ValueTask<IReadOnlyList<JwtSvid>> MintJwtSvidsAsync(
        WorkloadIdentity identity,
        IReadOnlyList<SpiffeId> spiffeIds,
        IReadOnlyList<string> audience,
        CancellationToken cancellationToken);

    /// <summary>
    /// Told of every JWT-SVID that ValidateJWTSVID accepted, with its verified SPIFFE ID (e.g. to
    /// count the use of a federated trust domain). A token that fails validation is not reported: it
    /// names no trust domain that can be believed. Default: nothing.
    /// </summary>
    void JwtSvidValidated(SpiffeId id)
    {
    }
}
