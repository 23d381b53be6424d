using System.Diagnostics;
using Xunit;

namespace Anchorage.Testing;

/// <summary>
/// The one poll-with-a-deadline helper: checks a condition until it holds or the deadline passes,
/// then fails naming what it waited for. Use it wherever a test would otherwise sleep.
/// </summary>
public static class Eventually
{
    /// <summary>How long a condition is given unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How often the condition is checked unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="condition"/> holds; returns how long that took.</summary>
    public static Task<TimeSpan> TrueAsync(Func<bool> condition, string what = "the condition", TimeSpan? timeout = null, TimeSpan? interval = null) =>
        TrueAsync(() => Task.FromResult(condition()), () => what, timeout, interval);

    /// <summary>Waits until the asynchronous <paramref name="condition"/> holds; returns how long that took.</summary>
    public static Task<TimeSpan> TrueAsync(Func<Task<bool>> condition, string what = "the condition", TimeSpan? timeout = null, TimeSpan? interval = null) =>
        TrueAsync(condition, () => what, timeout, interval);

    /// <summary>
    /// Waits until <paramref name="condition"/> holds; on timeout the failure names
    /// <paramref name="what"/>, computed then (so it can carry the state at the deadline, e.g. a child's output).
    /// </summary>
    public static async Task<TimeSpan> TrueAsync(Func<Task<bool>> condition, Func<string> what, TimeSpan? timeout = null, TimeSpan? interval = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed >= limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds:0.#} s waiting for {what()}");
            }

            await Task.Delay(interval ?? DefaultInterval);
        }

        return clock.Elapsed;
    }

    /// <summary>Waits until <paramref name="probe"/> returns a value that is not null; returns it.</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null, TimeSpan? interval = null)
        where T : class
    {
        T? value = null;
        await TrueAsync(async () => (value = await probe()) is not null, what, timeout, interval);
        return value!;
    }
}
