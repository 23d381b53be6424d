using Anchorage.WorkloadApi;

namespace Anchorage.AspNetCore.Internal;

/// <summary>Waits for a Workload API source's first update; other sources are ready by construction.</summary>
internal static class SourceReadiness
{
    /// <summary>Waits for both sources of an mTLS side: its own SVID and the bundles that verify the peer.</summary>
    public static async Task WaitAsync(object svids, object bundles, CancellationToken cancellationToken)
    {
        await WaitAsync(svids, cancellationToken).ConfigureAwait(false);
        await WaitAsync(bundles, cancellationToken).ConfigureAwait(false);
    }

    public static Task WaitAsync(object source, CancellationToken cancellationToken) => source switch
    {
        X509Source x509 => x509.WaitUntilUpdatedAsync(cancellationToken),
        JwtSource jwt => jwt.WaitUntilUpdatedAsync(cancellationToken),
        BundleSource bundles => bundles.WaitUntilUpdatedAsync(cancellationToken),
        _ => Task.CompletedTask,
    };
}
