using Anchorage.Server.Federation;

namespace Anchorage.Server.Tests.Federation;

/// <summary>
/// How often a peer's sequence changed (issue 15 item 2), read from a fetch history: only accepted
/// fetches with a sequence count, a change is a differing sequence from the previous accepted one, and
/// the median interval needs two changes.
/// </summary>
public sealed class FederationSequenceChangesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static FederationFetch At(int minutes, ulong? sequence, string outcome = FederationFetch.NotModified) =>
        new(T0.AddMinutes(minutes), outcome, outcome == FederationFetch.Error ? "boom" : null, sequence, null, null);

    [Fact]
    public void From_ChangesAtMinutes10_20_50_NewestFirst_ThreeChangesMedian20m()
    {
        // Newest first, as the datastore lists it; an error carrying another sequence (a rollback) is not a change.
        FederationFetch[] history =
        [
            At(60, 4), At(50, 4, FederationFetch.Ok), At(45, 1, FederationFetch.Error), At(40, 3), At(20, 3, FederationFetch.Ok),
            At(10, 2, FederationFetch.Ok), At(5, 1), At(0, 1, FederationFetch.Ok),
        ];

        var changes = FederationSequenceChanges.From(history);

        Assert.Equal(new FederationSequenceChanges(3, TimeSpan.FromMinutes(20), T0.AddMinutes(50), T0, 7), changes);
    }

    [Fact]
    public void From_EvenNumberOfIntervals_MedianIsTheMeanOfTheMiddleTwo()
    {
        var changes = FederationSequenceChanges.From([At(0, 1), At(10, 2), At(20, 3), At(50, 4), At(100, 5), At(110, 6)]);

        Assert.Equal(5, changes.Changes);
        // Changes at 10, 20, 50, 100, 110: intervals 10, 30, 50, 10 minutes; sorted, the middle two are 10 and 30.
        Assert.Equal(TimeSpan.FromMinutes(20), changes.MedianInterval);
    }

    [Fact]
    public void From_SameSequenceThroughout_NoChangeNoMedian_OneChange_NoMedian()
    {
        var steady = FederationSequenceChanges.From([At(0, 7), At(5, 7), At(10, 7)]);
        Assert.Equal(new FederationSequenceChanges(0, null, null, T0, 3), steady);

        var once = FederationSequenceChanges.From([At(0, 7), At(5, 8), At(10, 8)]);
        Assert.Equal(new FederationSequenceChanges(1, null, T0.AddMinutes(5), T0, 3), once);
    }

    [Fact]
    public void From_OnlyErrorsOrNoSequence_NothingCounted_Empty_None()
    {
        var failing = FederationSequenceChanges.From([At(0, 1, FederationFetch.Error), At(5, 2, FederationFetch.Error), At(10, null)]);

        Assert.Equal(new FederationSequenceChanges(0, null, null, T0, 0), failing);
        Assert.Same(FederationSequenceChanges.None, FederationSequenceChanges.From([]));
    }
}
