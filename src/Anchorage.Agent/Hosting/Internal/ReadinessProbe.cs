using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Hosting.Internal;

/// <summary>Calls the readiness callback; a throwing callback means "not ready", logged once per call.</summary>
internal sealed class ReadinessProbe(Func<CancellationToken, ValueTask<AgentReadiness>> callback, ILogger logger)
{
    public async ValueTask<AgentReadiness> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await callback(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            AgentHostingLog.ReadinessCheckFailed(logger, e);
            return AgentReadiness.NotReady(AgentHost.ReadinessCheckFailedReason);
        }
    }
}
