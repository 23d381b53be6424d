using System.Security.Cryptography;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// How a transaction that lost a serialization race is run again: at most <see cref="MaxAttempts"/>
/// runs, waiting before each retry a random time between half and all of an exponential step
/// (<see cref="BaseDelay"/> doubling up to <see cref="MaxDelay"/>), so racing servers do not retry in
/// step. The wait and the randomness are injected, so tests can drive both; by default the wait
/// is real time (<see cref="TimeProvider.System"/>) even when the store's timestamps come from a
/// test clock, which would otherwise never let a retry happen.
/// </summary>
internal sealed class RetryPolicy(Func<TimeSpan, CancellationToken, Task>? delay = null, Func<double>? random = null)
{
    /// <summary>Runs of one operation, the first included.</summary>
    public const int MaxAttempts = 5;

    /// <summary>The step before the first retry.</summary>
    public static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>The largest step.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(500);

    private readonly Func<TimeSpan, CancellationToken, Task> _delay = delay ?? (static (wait, ct) => Task.Delay(wait, TimeProvider.System, ct));
    private readonly Func<double> _random = random ?? (static () => RandomNumberGenerator.GetInt32(int.MaxValue) / (double)int.MaxValue);

    /// <summary>The wait after failed run <paramref name="attempt"/> (1-based): in [step/2, step], step = base * 2^(attempt-1), capped.</summary>
    public TimeSpan DelayAfter(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var step = BaseDelay * Math.Pow(2, Math.Min(attempt - 1, 16));
        if (step > MaxDelay)
        {
            step = MaxDelay;
        }

        return (step / 2) + (step / 2 * Math.Clamp(_random(), 0, 1));
    }

    /// <summary>Waits <see cref="DelayAfter"/>.</summary>
    public Task WaitAsync(int attempt, CancellationToken cancellationToken) => _delay(DelayAfter(attempt), cancellationToken);
}
