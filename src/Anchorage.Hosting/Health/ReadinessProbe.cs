namespace Anchorage.Hosting.Health;

/// <summary>
/// Calls a host's readiness callback for <c>/ready</c> and the gRPC health service; a throwing
/// callback means "not ready" (<see cref="FailedReason"/>), reported once per call.
/// </summary>
/// <param name="callback">The host's readiness callback.</param>
/// <param name="failed">Told about a callback that threw (the host logs it).</param>
public sealed class ReadinessProbe(Func<CancellationToken, ValueTask<ReadinessStatus>> callback, Action<Exception> failed)
{
    /// <summary>The reason given when the callback throws.</summary>
    public const string FailedReason = "readiness check failed";

    /// <summary>The callback's answer, or not ready with <see cref="FailedReason"/>.</summary>
    public async ValueTask<ReadinessStatus> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await callback(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failed(e);
            return ReadinessStatus.NotReady(FailedReason);
        }
    }
}
