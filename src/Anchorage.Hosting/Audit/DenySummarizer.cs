using System.Globalization;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;

namespace Anchorage.Hosting.Audit;

/// <summary>
/// An <see cref="IAuditSink"/> in front of another that keeps a flood of denials from one caller
/// from pushing older evidence out of the rotated files: per caller and window, the first
/// <c>perWindow</c> deny records pass as they are; the rest are counted and, when the window
/// ends, written as one <see cref="AuditKinds.DenySummary"/> record (<see cref="AuditRecord.Count"/>,
/// <see cref="AuditRecord.FirstTime"/>, <see cref="AuditRecord.LastTime"/>). Every other record
/// passes untouched.
/// </summary>
/// <remarks>
/// The caller is the local uid for an outbound denial (new processes or pids do not make a new
/// caller) and the remote SPIFFE ID, or else the remote host, for an inbound one, per listener.
/// At most <see cref="MaxCallers"/> callers are tracked; past that, every pending summary is
/// written at once and tracking starts over, so the table is bounded whatever callers do.
/// </remarks>
public sealed class DenySummarizer : IAuditSink, IDisposable
{
    /// <summary>The default of deny records a caller may write as they are per window.</summary>
    public const int DefaultPerWindow = 20;

    /// <summary>How many callers are tracked before every summary is written.</summary>
    public const int MaxCallers = 4096;

    /// <summary>The default window.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(1);

    private readonly IAuditSink _inner;
    private readonly TimeProvider _time;
    private readonly int _perWindow;
    private readonly TimeSpan _window;
    private readonly Dictionary<string, Caller> _callers = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ITimer _timer;

    /// <summary>Creates the summarizer; a timer writes the summaries of ended windows.</summary>
    public DenySummarizer(IAuditSink inner, TimeProvider time, int perWindow = DefaultPerWindow, TimeSpan? window = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfNegative(perWindow);
        _inner = inner;
        _time = time;
        _perWindow = perWindow;
        _window = window ?? DefaultWindow;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_window, TimeSpan.Zero, nameof(window));
        _timer = time.CreateTimer(_ => Flush(all: false), null, _window, _window);
    }

    /// <inheritdoc />
    public void Write(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Kind != AuditKinds.Connection || record.Decision != "deny")
        {
            _inner.Write(record);
            return;
        }

        var key = CallerKey(record);
        List<AuditRecord>? pending = null;
        var pass = false;
        lock (_lock)
        {
            if (!_callers.TryGetValue(key, out var caller) || record.Time >= caller.WindowStart + _window)
            {
                if (caller is { Suppressed: > 0 })
                {
                    (pending ??= []).Add(caller.Summary());
                }

                if (caller is null && _callers.Count >= MaxCallers)
                {
                    (pending ??= []).AddRange(_callers.Values.Where(c => c.Suppressed > 0).Select(c => c.Summary()));
                    _callers.Clear();
                }

                caller = new Caller(record.Time);
                _callers[key] = caller;
            }

            if (caller.Passed < _perWindow)
            {
                caller.Passed++;
                pass = true;
            }
            else
            {
                caller.Suppress(record);
            }
        }

        if (pending is not null)
        {
            pending.ForEach(_inner.Write);
        }

        if (pass)
        {
            _inner.Write(record);
        }
    }

    /// <summary>Writes every pending summary now (ended windows or not) and stops the timer.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        Flush(all: true);
    }

    private void Flush(bool all)
    {
        var now = _time.GetUtcNow();
        List<AuditRecord> summaries = [];
        lock (_lock)
        {
            foreach (var (key, caller) in _callers.ToList())
            {
                if (all || now >= caller.WindowStart + _window)
                {
                    if (caller.Suppressed > 0)
                    {
                        summaries.Add(caller.Summary());
                    }

                    _callers.Remove(key);
                }
            }
        }

        summaries.ForEach(_inner.Write);
    }

    private static string CallerKey(AuditRecord record) => record.Direction == "inbound"
        ? "in|" + record.Listener + "|" + (record.PeerSpiffeId ?? RemoteHost(record.Remote))
        : "out|" + record.Listener + "|" + (record.Process?.Uid.ToString(CultureInfo.InvariantCulture) ?? "?");

    private static string RemoteHost(string? remote)
    {
        if (remote is null)
        {
            return "?";
        }

        // The one host:port parser; a remote it cannot read groups on its own text.
        return Endpoints.TryParseDial(remote, out var address, out _) ? address.Host : remote;
    }

    private sealed class Caller(DateTimeOffset windowStart)
    {
        public DateTimeOffset WindowStart { get; } = windowStart;

        public int Passed { get; set; }

        public long Suppressed { get; private set; }

        private AuditRecord? _last;
        private DateTimeOffset _first;

        public void Suppress(AuditRecord record)
        {
            if (Suppressed++ == 0)
            {
                _first = record.Time;
            }

            _last = record;
        }

        // The last suppressed record stands for the rest: its process, peer, reason and rule.
        public AuditRecord Summary() => _last! with
        {
            Kind = AuditKinds.DenySummary,
            ConnectionId = null,
            Time = _last!.Time,
            Count = Suppressed,
            FirstTime = _first,
            LastTime = _last.Time,
        };
    }
}
