using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Hosting.Internal;

/// <summary>Calls the readiness callback; a throwing callback means "not ready", logged once per call.</summary>
internal sealed class ReadinessProbe(Func<CancellationToken, ValueTask<ReadinessStatus>> callback, ILogger<ReadinessProbe> logger)
{
    public async ValueTask<ReadinessStatus> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await callback(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            HostingLog.ReadinessCheckFailed(logger, e);
            return ReadinessStatus.NotReady("readiness check failed");
        }
    }
}
