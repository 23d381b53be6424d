using System.Diagnostics;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// The cluster's one poll-with-a-deadline loop (what <c>Eventually</c> is to the tests, which
/// <c>src/</c> cannot reference): every wait of the demo and of the harness goes through it.
/// </summary>
internal static class Poll
{
    /// <summary>
    /// Checks <paramref name="done"/> every <paramref name="interval"/> until it holds; returns how
    /// long that took. <paramref name="done"/> may throw to give up early (a child exited).
    /// </summary>
    /// <exception cref="DemoStepException"><paramref name="within"/> passed first; the message is <paramref name="failure"/>'s, computed then.</exception>
    public static async Task<TimeSpan> UntilAsync(Func<CancellationToken, Task<bool>> done, TimeSpan within, TimeSpan interval, Func<string> failure, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!await done(cancellationToken).ConfigureAwait(false))
        {
            if (clock.Elapsed > within)
            {
                throw new DemoStepException(failure());
            }

            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }

        return clock.Elapsed;
    }

    /// <summary>As above for a condition that needs no I/O.</summary>
    public static Task<TimeSpan> UntilAsync(Func<bool> done, TimeSpan within, TimeSpan interval, Func<string> failure, CancellationToken cancellationToken) =>
        UntilAsync(_ => Task.FromResult(done()), within, interval, failure, cancellationToken);
}
