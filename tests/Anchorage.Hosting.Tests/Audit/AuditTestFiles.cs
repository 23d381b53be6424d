using System.Collections.Concurrent;
using Anchorage.Hosting.Audit;
using Microsoft.Extensions.Logging;

namespace Anchorage.Hosting.Tests.Audit;

/// <summary>A temporary directory for audit files, deleted on dispose.</summary>
internal sealed class AuditDir : IDisposable
{
    public AuditDir() => Path = Directory.CreateTempSubdirectory("anchorage-audit-").FullName;

    public string Path { get; }

    public string File(string name = "audit.jsonl") => System.IO.Path.Join(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Keeps every formatted log line with its event id and level.</summary>
internal sealed class ListLogger : ILogger
{
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Lines { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
}

/// <summary>A clock that stays where it is set.</summary>
internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

internal static class Records
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 23, 1, 0, 0, TimeSpan.Zero);

    public static AuditRecord Numbered(long n) => new()
    {
        Time = T0.AddSeconds(n),
        Kind = AuditKinds.Policy,
        Decision = "applied",
        Sequence = n,
    };

    public static string[] Lines(string file) =>
        System.IO.File.Exists(file) ? System.IO.File.ReadAllLines(file) : [];
}
