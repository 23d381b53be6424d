using Anchorage.Server.DataStore.Internal;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>The datastore's one retry policy: exponential steps with jitter, capped, waited through the injected delay.</summary>
public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(1, 0.0, 5)]
    [InlineData(1, 1.0, 10)]
    [InlineData(2, 0.0, 10)]
    [InlineData(3, 1.0, 40)]
    [InlineData(4, 0.5, 60)]
    [InlineData(7, 1.0, 500)]
    [InlineData(30, 0.0, 250)]
    public void DelayAfter_AttemptAndRandom_HalfToAllOfTheCappedExponentialStep(int attempt, double random, int expectedMs)
    {
        var policy = new RetryPolicy(random: () => random);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), policy.DelayAfter(attempt));
    }

    [Fact]
    public void DelayAfter_DefaultRandom_StaysWithinTheStepAndVaries()
    {
        var policy = new RetryPolicy();

        var delays = Enumerable.Range(0, 50).Select(_ => policy.DelayAfter(3)).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(40)));
        Assert.True(delays.Distinct().Count() > 1, "no jitter: every delay was the same");
    }

    [Fact]
    public async Task WaitAsync_InjectedDelay_ReceivesTheComputedWait()
    {
        var waits = new List<TimeSpan>();
        var policy = new RetryPolicy((wait, _) => { waits.Add(wait); return Task.CompletedTask; }, () => 1.0);

        await policy.WaitAsync(1, CancellationToken.None);
        await policy.WaitAsync(2, CancellationToken.None);

        Assert.Equal([TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(20)], waits);
    }
}
