using Anchorage.Protos.Agent.V1;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Agent.Node;

/// <summary>
/// Observed use (issue 15 item 3): per federated trust domain, direction and listener, how many connections
/// the gate allowed and denied and how many JWT-SVIDs the Workload API validated, and when each was
/// last seen, since the last report the server accepted. Sent by <see cref="Cache.CacheSynchronizer"/>
/// at each sync (<c>ReportUsage</c>). Thread-safe.
/// </summary>
/// <remarks>
/// Bounded: at most <see cref="MaxRows"/> trust domain, direction and listener triples are held between two
/// reports; an event for a further pair is dropped and counted in <see cref="Dropped"/>. The agent's
/// own trust domain is not counted (only federated ones are governed).
/// </remarks>
public sealed class UsageRecorder(TrustDomain ownTrustDomain, TimeProvider time)
{
    /// <summary>The listener name JWT-SVID validations through the Workload API are counted under.</summary>
    public const string WorkloadApiListener = "workload-api";

    /// <summary>The most trust domain and direction pairs held between two reports (the server's limit per report).</summary>
    public const int MaxRows = 1024;

    private readonly Lock _lock = new();
    private Dictionary<(TrustDomain TrustDomain, string Direction, string Listener), Counts> _rows = [];
    private long _dropped;

    /// <summary>Events dropped because <see cref="MaxRows"/> pairs were already held.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The longest listener name kept; a longer one is cut (the server refuses longer ones).</summary>
    public const int MaxListenerLength = 128;

    /// <summary>
    /// Counts one connection or token of <paramref name="trustDomain"/> in <paramref name="direction"/>
    /// (<c>outbound</c> or <c>inbound</c>) decided at <paramref name="listener"/> (a gate listener's
    /// name, <see cref="WorkloadApiListener"/> for a validated JWT-SVID).
    /// </summary>
    public void Record(TrustDomain trustDomain, string direction, bool allowed, string listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (trustDomain.IsEmpty || trustDomain == ownTrustDomain || direction is not ("outbound" or "inbound"))
        {
            return;
        }

        listener = listener.Length > MaxListenerLength ? listener[..MaxListenerLength] : listener;

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_rows.TryGetValue((trustDomain, direction, listener), out var counts))
            {
                if (_rows.Count >= MaxRows)
                {
                    _dropped++;
                    return;
                }

                counts = new Counts();
                _rows[(trustDomain, direction, listener)] = counts;
            }

            if (allowed)
            {
                counts.Allowed++;
                counts.LastAllowed = now;
            }
            else
            {
                counts.Denied++;
                counts.LastDenied = now;
            }
        }
    }

    /// <summary>What was recorded since the last <see cref="Take"/>, as report rows; the recorder starts again from zero.</summary>
    public IReadOnlyList<TrustDomainUsage> Take()
    {
        Dictionary<(TrustDomain TrustDomain, string Direction, string Listener), Counts> taken;
        lock (_lock)
        {
            if (_rows.Count == 0)
            {
                return [];
            }

            taken = _rows;
            _rows = [];
        }

        return [.. taken.OrderBy(r => r.Key.TrustDomain.Name, StringComparer.Ordinal).ThenBy(r => r.Key.Direction, StringComparer.Ordinal).ThenBy(r => r.Key.Listener, StringComparer.Ordinal).Select(r => new TrustDomainUsage
        {
            TrustDomain = r.Key.TrustDomain.Name,
            Direction = r.Key.Direction,
            Listener = r.Key.Listener,
            Allowed = r.Value.Allowed,
            Denied = r.Value.Denied,
            LastAllowed = r.Value.LastAllowed?.ToUnixTimeSeconds() ?? 0,
            LastDenied = r.Value.LastDenied?.ToUnixTimeSeconds() ?? 0,
        })];
    }

    /// <summary>Puts back rows a report could not deliver, so the next report carries them (within the bound).</summary>
    public void Restore(IReadOnlyList<TrustDomainUsage> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        lock (_lock)
        {
            foreach (var row in rows)
            {
                if (!TrustDomain.TryParse(row.TrustDomain, out var trustDomain, out _))
                {
                    continue;
                }

                if (!_rows.TryGetValue((trustDomain, row.Direction, row.Listener), out var counts))
                {
                    if (_rows.Count >= MaxRows)
                    {
                        _dropped += row.Allowed + row.Denied;
                        continue;
                    }

                    counts = new Counts();
                    _rows[(trustDomain, row.Direction, row.Listener)] = counts;
                }

                counts.Allowed += row.Allowed;
                counts.Denied += row.Denied;
                counts.LastAllowed = Later(counts.LastAllowed, row.LastAllowed);
                counts.LastDenied = Later(counts.LastDenied, row.LastDenied);
            }
        }
    }

    private static DateTimeOffset? Later(DateTimeOffset? held, long unixSeconds) =>
        unixSeconds == 0 ? held
        : DateTimeOffset.FromUnixTimeSeconds(unixSeconds) is var restored && (held is null || restored > held) ? restored : held;

    private sealed class Counts
    {
        public long Allowed { get; set; }

        public long Denied { get; set; }

        public DateTimeOffset? LastAllowed { get; set; }

        public DateTimeOffset? LastDenied { get; set; }
    }
}
