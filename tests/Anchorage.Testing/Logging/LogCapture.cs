using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Anchorage.Testing.Logging;

/// <summary>
/// The one log capture for tests, over <see cref="FakeLogCollector"/>
/// (Microsoft.Extensions.Diagnostics.Testing): a logger factory for hosts, a plain
/// <see cref="Logger"/> for classes that take an <see cref="ILogger"/>, and views of what was logged.
/// </summary>
public sealed class LogCapture : IDisposable
{
    private readonly ILoggerFactory _factory;

    /// <param name="minimum">The lowest level the <see cref="Factory"/> passes on (Debug unless a test scans everything).</param>
    public LogCapture(LogLevel minimum = LogLevel.Debug)
    {
        _factory = LoggerFactory.Create(b => b.SetMinimumLevel(minimum).AddProvider(new FakeLoggerProvider(Collector)));
        Logger = new FakeLogger(Collector, "Anchorage.Test");
    }

    /// <summary>Every record, from the factory's loggers and from <see cref="Logger"/>.</summary>
    public FakeLogCollector Collector { get; } = new();

    /// <summary>A factory whose loggers write here.</summary>
    public ILoggerFactory Factory => _factory;

    /// <summary>A logger (category <c>Anchorage.Test</c>, every level) that writes here.</summary>
    public FakeLogger Logger { get; }

    /// <summary>Anchorage's own events (categories <c>Anchorage.*</c>), in order: event id, level, formatted message.</summary>
    public IReadOnlyList<(int EventId, LogLevel Level, string Message)> Events =>
        [.. Collector.GetSnapshot()
            .Where(r => r.Category is not null && r.Category.StartsWith("Anchorage.", StringComparison.Ordinal))
            .Select(r => (r.Id.Id, r.Level, r.Message))];

    /// <summary>The formatted messages of event <paramref name="eventId"/>, in order.</summary>
    public IEnumerable<string> Messages(int eventId) => Events.Where(e => e.EventId == eventId).Select(e => e.Message);

    /// <summary>
    /// Every record of every category as one line: level, category, event id, message, each
    /// structured value and the exception's full text, for scanning what would reach a log sink.
    /// </summary>
    public IReadOnlyList<string> Lines =>
        [.. Collector.GetSnapshot().Select(r =>
            $"{r.Level} {r.Category}[{r.Id.Id}] {r.Message} | {Values(r.State)} | {r.Exception}")];

    public void Dispose() => _factory.Dispose();

    // The structured values; a logger called with a plain state (a string) has none.
    private static string Values(object? state) => state switch
    {
        IEnumerable<KeyValuePair<string, string?>> pairs => string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")),
        IEnumerable<KeyValuePair<string, object?>> pairs => string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")),
        _ => string.Empty,
    };
}
