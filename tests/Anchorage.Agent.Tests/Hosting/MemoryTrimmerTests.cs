using Anchorage.Agent.Hosting.Internal;
using Anchorage.Testing.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Hosting;

/// <summary>When the agent gives a connection burst's memory back: real connection counts, a fake clock, a counted collection.</summary>
public sealed class MemoryTrimmerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 15, 0, 0, TimeSpan.Zero));
    private readonly ConnectionLimiter _connections = new(8192, 8192);
    private readonly LogCapture _log = new();
    private int _collections;

    public void Dispose() => _log.Dispose();

    private MemoryTrimmer Trimmer() => new(_connections, _time, _log.Logger, () => _collections++);

    private List<IDisposable> Open(int count) =>
        [.. Enumerable.Range(0, count).Select(_ => (IDisposable)_connections.TryAcquire(1000, out string? _)!)];

    [Fact]
    public void Check_BurstClosed_OneTrimLoggedWithThePeak()
    {
        var trimmer = Trimmer();
        var burst = Open(1000);
        var steady = Open(10);

        // While the burst is open: nothing to give back.
        Assert.False(trimmer.Check());
        burst.ForEach(c => c.Dispose());

        Assert.True(trimmer.Check());
        Assert.Equal(1, _collections);
        Assert.Single(_log.Messages(5522), m => m.StartsWith("workload api connections fell from 1010 to 10: memory returned to the system", StringComparison.Ordinal));

        // The same counts again: the peak was taken, nothing new closed.
        Assert.False(trimmer.Check());
        Assert.Equal(1, _collections);
        steady.ForEach(c => c.Dispose());
    }

    [Fact]
    public void Check_SmallBurstOrMostStillOpen_NoTrim()
    {
        var trimmer = Trimmer();
        Open(MemoryTrimmer.BurstConnections - 1).ForEach(c => c.Dispose());
        Assert.False(trimmer.Check());

        // 1000 at the peak, 300 still open: more than a quarter, the burst is not over.
        var still = Open(300);
        Open(700).ForEach(c => c.Dispose());
        Assert.False(trimmer.Check());
        Assert.Equal(0, _collections);
        still.ForEach(c => c.Dispose());
    }

    [Fact]
    public void Check_SecondBurstWithinTheInterval_WaitsForIt()
    {
        var trimmer = Trimmer();
        Open(500).ForEach(c => c.Dispose());
        Assert.True(trimmer.Check());

        Open(500).ForEach(c => c.Dispose());
        Assert.False(trimmer.Check());

        // Positive control: past the interval a new burst is trimmed again.
        _time.Advance(MemoryTrimmer.MinimumInterval);
        Open(500).ForEach(c => c.Dispose());
        Assert.True(trimmer.Check());
        Assert.Equal(2, _collections);
    }
}
