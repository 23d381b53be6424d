using Anchorage.WorkloadApi;

namespace Anchorage.AspNetCore.Internal;

/// <summary>Waits for a Workload API source's first update; other sources are ready by construction.</summary>
internal static class SourceReadiness
{
    public static Task WaitAsync(object source, CancellationToken cancellationToken) => source switch
    {
        X509Source x509 => x509.WaitUntilUpdatedAsync(cancellationToken),
        JwtSource jwt => jwt.WaitUntilUpdatedAsync(cancellationToken),
        BundleSource bundles => bundles.WaitUntilUpdatedAsync(cancellationToken),
        _ => Task.CompletedTask,
    };
}
