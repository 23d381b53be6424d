using Anchorage.Foundation.Retry;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// How a transaction that lost a serialization race is run again: at most <see cref="MaxAttempts"/>
/// runs, waiting before each retry the one <see cref="Backoff"/> with equal jitter (a random time
/// between half and all of an exponential step, <see cref="BaseDelay"/> doubling up to
/// <see cref="MaxDelay"/>), so racing servers do not retry in step. The wait and the randomness are
/// injected, so tests can drive both; by default the wait is real time (<see cref="TimeProvider.System"/>)
/// even when the store's timestamps come from a test clock, which would otherwise never let a retry happen.
/// </summary>
internal sealed class RetryPolicy(Func<TimeSpan, CancellationToken, Task>? delay = null, Func<double>? random = null)
{
    /// <summary>Runs of one operation, the first included.</summary>
    public const int MaxAttempts = 5;

    /// <summary>The step before the first retry.</summary>
    public static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>The largest step.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(500);

    private readonly Func<TimeSpan, CancellationToken, Task>? _delay = delay;
    private readonly Backoff _backoff = new(BaseDelay, MaxDelay, TimeProvider.System, BackoffJitter.Equal, random);

    /// <summary>The wait after failed run <paramref name="attempt"/> (1-based): in [step/2, step], step = base * 2^(attempt-1), capped.</summary>
    public TimeSpan DelayAfter(int attempt) => _backoff.DelayAfter(attempt);

    /// <summary>Waits <see cref="DelayAfter"/>.</summary>
    public Task WaitAsync(int attempt, CancellationToken cancellationToken)
    {
        var wait = DelayAfter(attempt);
        return _delay is null ? _backoff.DelayAsync(wait, cancellationToken) : _delay(wait, cancellationToken);
    }
}
