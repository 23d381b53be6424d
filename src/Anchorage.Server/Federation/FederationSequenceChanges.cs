namespace Anchorage.Server.Federation;

/// <summary>
/// How often a peer's <c>spiffe_sequence</c> actually changed (issue 15 item 2), read from the fetch
/// history: over the accepted fetches (<c>ok</c> and <c>not-modified</c>, oldest first) that carry a
/// sequence, a change is a fetch whose sequence differs from the previous one's; the interval between
/// two changes is the time between the fetches that saw them.
/// </summary>
/// <remarks>
/// A change is seen at the first fetch after it happened, so each time is late by up to one poll
/// interval, and several changes between two fetches count as one. The window is the history kept
/// (<see cref="FederationFetch.HistoryLimit"/> fetches: about 4 hours at a 5-minute poll); a peer
/// that changes less often than that shows fewer than two changes and no median.
/// </remarks>
/// <param name="Changes">Sequence changes seen within the window.</param>
/// <param name="MedianInterval">The median time between consecutive changes; null with fewer than two changes.</param>
/// <param name="LastChangeAt">When the latest change was seen; null for none.</param>
/// <param name="Since">The oldest fetch of the window; null when no fetch is recorded.</param>
/// <param name="Fetches">How many accepted fetches with a sequence the window holds.</param>
public sealed record FederationSequenceChanges(int Changes, TimeSpan? MedianInterval, DateTimeOffset? LastChangeAt, DateTimeOffset? Since, int Fetches)
{
    /// <summary>Nothing recorded.</summary>
    public static FederationSequenceChanges None { get; } = new(0, null, null, null, 0);

    /// <summary>Reads the changes from a fetch history in any order.</summary>
    public static FederationSequenceChanges From(IReadOnlyList<FederationFetch> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (history.Count == 0)
        {
            return None;
        }

        var accepted = history
            .Where(f => f.Outcome != FederationFetch.Error && f.Sequence is not null)
            .OrderBy(f => f.Time)
            .ToList();
        var changedAt = new List<DateTimeOffset>();
        for (var i = 1; i < accepted.Count; i++)
        {
            if (accepted[i].Sequence != accepted[i - 1].Sequence)
            {
                changedAt.Add(accepted[i].Time);
            }
        }

        TimeSpan? median = null;
        if (changedAt.Count >= 2)
        {
            var intervals = changedAt.Zip(changedAt.Skip(1), (a, b) => b - a).Order().ToList();
            var mid = intervals.Count / 2;
            median = intervals.Count % 2 == 1 ? intervals[mid] : (intervals[mid - 1] + intervals[mid]) / 2;
        }

        return new FederationSequenceChanges(
            changedAt.Count,
            median,
            changedAt.Count == 0 ? null : changedAt[^1],
            history.Min(f => f.Time),
            accepted.Count);
    }
}
