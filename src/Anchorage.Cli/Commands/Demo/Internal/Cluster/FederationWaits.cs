using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>Waits for a federated bundle to travel from one domain's bundle endpoint to the other's server.</summary>
internal static class FederationWaits
{
    /// <summary>
    /// Waits until <paramref name="local"/> stores <paramref name="peer"/>'s current bundle (fetched,
    /// not bootstrapped), at least sequence <paramref name="atLeast"/>; returns its sequence.
    /// </summary>
    public static async Task<ulong> WaitFederatedAsync(ClusterDomain local, ClusterDomain peer, CancellationToken cancellationToken, ulong atLeast = 0)
    {
        var current = await OperatorCli.AdminAsync(peer, (c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
        var want = Math.Max(atLeast, current.Sequence);
        FederationStatus? status = null;
        await Poll.UntilAsync(
            async ct =>
            {
                status = await OperatorCli.AdminAsync(local, (c, o) => c.GetFederationAsync(new GetFederationRequest { TrustDomain = peer.Name }, o), ct).ConfigureAwait(false);
                return status.Sequence >= want && status.LastRefresh > 0;
            },
            LocalCluster.ConvergeTimeout,
            TimeSpan.FromMilliseconds(100),
            () => $"{local.Name} did not fetch {peer.Name}'s bundle sequence {want} within {LocalCluster.ConvergeTimeout.TotalSeconds:0} s (it has {status?.Sequence}, last error \"{status?.LastError}\")",
            cancellationToken).ConfigureAwait(false);
        return status!.Sequence;
    }
}
