using Anchorage.Foundation.Retry;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Foundation.Tests.Retry;

public sealed class BackoffTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(5, 16)]
    [InlineData(6, 30)]
    [InlineData(64, 30)]
    [InlineData(int.MaxValue, 30)]
    public void Step_Attempt_DoublesFromInitialUpToMax(int attempt, int expectedSeconds)
    {
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(30), TimeProvider.System);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), backoff.Step(attempt));
    }

    [Theory]
    [InlineData(BackoffJitter.Equal, 0.0, 4000)]
    [InlineData(BackoffJitter.Equal, 0.5, 6000)]
    [InlineData(BackoffJitter.Equal, 1.0, 8000)]
    [InlineData(BackoffJitter.Full, 0.0, 0)]
    [InlineData(BackoffJitter.Full, 0.25, 2000)]
    [InlineData(BackoffJitter.Full, 1.0, 8000)]
    [InlineData(BackoffJitter.None, 0.0, 8000)]
    [InlineData(BackoffJitter.None, 1.0, 8000)]
    [InlineData(BackoffJitter.Equal, 7.0, 8000)]
    [InlineData(BackoffJitter.Equal, -1.0, 4000)]
    public void DelayAfter_JitterAndRandom_IsThatShareOfTheStep(BackoffJitter jitter, double random, int expectedMs)
    {
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(30), TimeProvider.System, jitter, () => random);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), backoff.DelayAfter(4));
    }

    [Fact]
    public void Next_FailuresThenReset_StartsAgainFromTheFirstStep()
    {
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(4), TimeProvider.System, BackoffJitter.Equal, () => 1.0);

        var waits = Enumerable.Range(0, 4).Select(_ => backoff.Next()).ToList();
        backoff.Reset();

        Assert.Equal([Second, 2 * Second, 4 * Second, 4 * Second], waits);
        Assert.Equal(Second, backoff.Next());
    }

    [Fact]
    public void DelayAfter_DefaultRandom_StaysWithinHalfToAllOfTheStepAndVaries()
    {
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(30), TimeProvider.System);

        var delays = Enumerable.Range(0, 50).Select(_ => backoff.DelayAfter(3)).ToList();

        Assert.All(delays, d => Assert.InRange(d, 2 * Second, 4 * Second));
        Assert.True(delays.Distinct().Count() > 1, "50 waits drawn from RandomNumberGenerator were all equal");
    }

    [Fact]
    public void DelayAfter_FullJitterDefaultRandom_StaysWithinZeroToTheStep()
    {
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(30), TimeProvider.System, BackoffJitter.Full);

        Assert.All(Enumerable.Range(0, 50).Select(_ => backoff.DelayAfter(2)), d => Assert.InRange(d, TimeSpan.Zero, 2 * Second));
    }

    [Fact]
    public void Constructor_InitialNotPositive_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.Zero, Second, TimeProvider.System));

        Assert.Equal("initial", e.ParamName);
    }

    [Fact]
    public void Constructor_MaxBelowInitial_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(2 * Second, Second, TimeProvider.System));

        Assert.Equal("max", e.ParamName);
    }

    [Fact]
    public void DelayAfter_AttemptZero_Throws()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(Second, Second, TimeProvider.System).DelayAfter(0));

        Assert.Equal("attempt", e.ParamName);
    }

    [Fact]
    public void Constructor_NoTimeProvider_Throws()
    {
        var e = Assert.Throws<ArgumentNullException>(() => new Backoff(Second, Second, null!));

        Assert.Equal("time", e.ParamName);
    }

    [Fact]
    public async Task WaitAsync_TestClock_CompletesOnlyWhenTheClockReachesTheWait()
    {
        var time = new FakeTimeProvider();
        var backoff = new Backoff(Second, TimeSpan.FromSeconds(30), time, BackoffJitter.Equal, () => 1.0);
        _ = backoff.Next();

        var wait = backoff.WaitAsync(CancellationToken.None);
        time.Advance(2 * Second - TimeSpan.FromTicks(1));
        Assert.False(wait.IsCompleted);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(2 * Second, await wait.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task DelayAsync_Cancelled_ThrowsWithoutWaiting()
    {
        var backoff = new Backoff(Second, Second, new FakeTimeProvider());
        using var cancel = new CancellationTokenSource();

        var wait = backoff.DelayAsync(TimeSpan.FromHours(1), cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}
