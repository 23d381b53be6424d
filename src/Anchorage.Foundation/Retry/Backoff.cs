using System.Security.Cryptography;

#if ANCHORAGE_LINKED_BACKOFF
namespace Anchorage.WorkloadApi.Internal;
#else
namespace Anchorage.Foundation.Retry;
#endif

/// <summary>
/// The one exponential backoff: the step before retry <c>n</c> (1-based) is
/// <c>min(Initial * 2^(n-1), Max)</c>, and the wait is that step randomized by <see cref="Jitter"/>
/// (<see cref="BackoffJitter.Equal"/> unless stated). The randomness is a function returning a
/// number in [0, 1], <see cref="RandomNumberGenerator"/> by default (never System.Random),
/// so tests can pin it; waits run on the injected <see cref="TimeProvider"/>, so a test clock
/// drives them. Use <see cref="DelayAfter"/> where the caller counts failures itself, or
/// <see cref="Next"/>/<see cref="WaitAsync"/> and <see cref="Reset"/> for a retry loop.
/// Not thread-safe: one instance per loop.
/// </summary>
/// <remarks>
/// The SDK (Anchorage.WorkloadApi) compiles this file into its own assembly with internal types
/// (<c>ANCHORAGE_LINKED_BACKOFF</c>), because the NuGet package must not depend on this
/// unpacked project. <see cref="BackoffJitter"/> stands in this file too (an exception to one
/// public type per file), so that the linking switch is written once.
/// </remarks>
#if ANCHORAGE_LINKED_BACKOFF
internal
#else
public
#endif
sealed class Backoff
{
    private readonly Func<double> _random;
    private int _failures;

    /// <summary>A backoff from <paramref name="initial"/> doubling up to <paramref name="max"/>.</summary>
    /// <param name="initial">The first step.</param>
    /// <param name="max">The largest step.</param>
    /// <param name="time">The clock the waits run on.</param>
    /// <param name="jitter">How a step is randomized.</param>
    /// <param name="random">A number in [0, 1] per wait (values outside are clamped); default <see cref="RandomNumberGenerator"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="initial"/> is not positive, or <paramref name="max"/> is below it.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="time"/> is null.</exception>
    public Backoff(TimeSpan initial, TimeSpan max, TimeProvider time, BackoffJitter jitter = BackoffJitter.Equal, Func<double>? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        ArgumentNullException.ThrowIfNull(time);
        Time = time;
        Initial = initial;
        Max = max;
        Jitter = jitter;
        _random = random ?? SecureRandom;
    }

    /// <summary>The first step.</summary>
    public TimeSpan Initial { get; }

    /// <summary>The largest step.</summary>
    public TimeSpan Max { get; }

    /// <summary>How a step is randomized.</summary>
    public BackoffJitter Jitter { get; }

    /// <summary>The clock the waits run on.</summary>
    public TimeProvider Time { get; }

    /// <summary>The step before retry <paramref name="attempt"/> (1-based), before jitter: <c>min(Initial * 2^(attempt-1), Max)</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is below 1.</exception>
    public TimeSpan Step(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);

        // Doubling 62 times overflows the ticks of any positive step: stop once past Max.
        var ticks = Initial.Ticks;
        for (var i = 1; i < attempt && ticks < Max.Ticks; i++)
        {
            ticks = ticks > Max.Ticks / 2 ? Max.Ticks : ticks * 2;
        }

        return TimeSpan.FromTicks(Math.Min(ticks, Max.Ticks));
    }

    /// <summary>The wait before retry <paramref name="attempt"/> (1-based): <see cref="Step"/> randomized by <see cref="Jitter"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="attempt"/> is below 1.</exception>
    public TimeSpan DelayAfter(int attempt)
    {
        var step = Step(attempt);
        var r = Math.Clamp(_random(), 0, 1);
        return Jitter switch
        {
            BackoffJitter.Equal => TimeSpan.FromTicks((step.Ticks / 2) + (long)(step.Ticks / 2 * r)),
            BackoffJitter.Full => TimeSpan.FromTicks((long)(step.Ticks * r)),
            _ => step,
        };
    }

    /// <summary>Counts a failure and returns the wait before the next try.</summary>
    public TimeSpan Next()
    {
        if (_failures < int.MaxValue)
        {
            _failures++;
        }

        return DelayAfter(_failures);
    }

    /// <summary>Waits <paramref name="wait"/> on <see cref="Time"/>.</summary>
    public Task DelayAsync(TimeSpan wait, CancellationToken cancellationToken) => Task.Delay(wait, Time, cancellationToken);

    /// <summary>Counts a failure (<see cref="Next"/>) and waits that long on <see cref="Time"/>.</summary>
    /// <returns>The wait, once it has passed.</returns>
    public async Task<TimeSpan> WaitAsync(CancellationToken cancellationToken)
    {
        var wait = Next();
        await DelayAsync(wait, cancellationToken).ConfigureAwait(false);
        return wait;
    }

    /// <summary>After a success: the next failure waits the first step again.</summary>
    public void Reset() => _failures = 0;

    private static double SecureRandom() => RandomNumberGenerator.GetInt32(int.MaxValue) / (double)(int.MaxValue - 1);
}

/// <summary>How <see cref="Backoff"/> randomizes a step, so that many clients that failed together do not retry together.</summary>
#if ANCHORAGE_LINKED_BACKOFF
internal
#else
public
#endif
enum BackoffJitter
{
    /// <summary>Exactly the step: for a single waiter (a shortage in one process), where nobody else retries in step.</summary>
    None,

    /// <summary>"Equal jitter": a uniform time between half the step and the whole step; never sooner than half.</summary>
    Equal,

    /// <summary>"Full jitter": a uniform time between zero and the step; the widest spread.</summary>
    Full,
}
