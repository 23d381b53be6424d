using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Anchorage.WorkloadApi.Internal;

/// <summary>
/// Records what <see cref="WorkloadApiMetrics"/> describes. One tracker per watch; live trackers
/// are held in a bounded-by-construction set (one entry per undisposed source).
/// </summary>
internal static class SourceMetrics
{
    private static readonly Meter Meter = new(WorkloadApiMetrics.MeterName);
    private static readonly Counter<long> UpdateCounter = Meter.CreateCounter<long>(WorkloadApiMetrics.Updates, "{update}", "updates applied by a Workload API source");
    private static readonly ConcurrentDictionary<Tracker, byte> Live = new();

    static SourceMetrics()
    {
        Meter.CreateObservableGauge(WorkloadApiMetrics.LastUpdateAge, ObserveAges, "s", "seconds since a Workload API source's last update");
    }

    public static Tracker Track(string source, TimeProvider time)
    {
        var tracker = new Tracker(source, time);
        Live.TryAdd(tracker, 0);
        return tracker;
    }

    private static IEnumerable<Measurement<double>> ObserveAges()
    {
        var oldest = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var tracker in Live.Keys)
        {
            if (tracker.Age() is { } age && (!oldest.TryGetValue(tracker.Source, out var seen) || age > seen))
            {
                oldest[tracker.Source] = age;
            }
        }

        return oldest.Select(kv => new Measurement<double>(kv.Value, new KeyValuePair<string, object?>("source", kv.Key)));
    }

    internal sealed class Tracker(string source, TimeProvider time) : IDisposable
    {
        private long _last = -1;

        public string Source { get; } = source;

        public void Updated()
        {
            Volatile.Write(ref _last, time.GetTimestamp());
            UpdateCounter.Add(1, new KeyValuePair<string, object?>("source", Source));
        }

        public double? Age()
        {
            var last = Volatile.Read(ref _last);
            return last < 0 ? null : time.GetElapsedTime(last).TotalSeconds;
        }

        public void Dispose() => Live.TryRemove(this, out _);
    }
}
