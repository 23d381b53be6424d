using System.Text.Json;
using Anchorage.Cli.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Cli.Tests.Internal;

/// <summary><c>logging: { format: json }</c>: one JSON object per line with the event id and name.</summary>
public class JsonLineLogFormatterTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero));

    [Fact]
    public void Write_SourceGeneratedEvent_OneLineWithIdNameMessageAndFields()
    {
        var line = Format(logger => Opened(logger, "sqlite", 4, true));

        Assert.EndsWith("\n", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line.TrimEnd('\n'));
        Assert.Equal(
            """{"time":"2026-01-02T03:04:05.678Z","level":"Information","category":"Anchorage.Test","eventId":1201,"event":"Opened","message":"datastore sqlite opened at schema version 4 (fresh: True)","fields":{"Backend":"sqlite","Version":4,"Fresh":true}}""",
            line.TrimEnd('\n'));
    }

    [Fact]
    public void Write_Exception_ExceptionFieldAndMessageEscapedOnOneLine()
    {
        var line = Format(logger => Failed(logger, "line one\nline \"two\"", new InvalidOperationException("boom")));

        Assert.Single(line.TrimEnd('\n').Split('\n'));
        using var json = JsonDocument.Parse(line);
        Assert.Equal(1202, json.RootElement.GetProperty("eventId").GetInt32());
        Assert.Equal("Failed", json.RootElement.GetProperty("event").GetString());
        Assert.Equal("Error", json.RootElement.GetProperty("level").GetString());
        Assert.Equal("failed: line one\nline \"two\"", json.RootElement.GetProperty("message").GetString());
        Assert.StartsWith("System.InvalidOperationException: boom", json.RootElement.GetProperty("exception").GetString(), StringComparison.Ordinal);
    }

    // What [LoggerMessage] generates: a named event id and a state of named values.
    private static readonly Action<ILogger, string, int, bool, Exception?> OpenedEvent =
        LoggerMessage.Define<string, int, bool>(LogLevel.Information, new EventId(1201, "Opened"), "datastore {Backend} opened at schema version {Version} (fresh: {Fresh})");

    private static readonly Action<ILogger, string, Exception?> FailedEvent =
        LoggerMessage.Define<string>(LogLevel.Error, new EventId(1202, "Failed"), "failed: {Reason}");

    private static void Opened(ILogger logger, string backend, int version, bool fresh) => OpenedEvent(logger, backend, version, fresh, null);

    private static void Failed(ILogger logger, string reason, Exception exception) => FailedEvent(logger, reason, exception);

    private static string Format(Action<ILogger> log)
    {
        var formatter = new JsonLineLogFormatter(new StaticOptions(), Time);
        var sink = new CapturingLogger(formatter);
        log(sink);
        return sink.Text.ToString();
    }

    private sealed class StaticOptions : IOptionsMonitor<ConsoleFormatterOptions>
    {
        public ConsoleFormatterOptions CurrentValue { get; } = new();

        public ConsoleFormatterOptions Get(string? name) => CurrentValue;

        public IDisposable? OnChange(Action<ConsoleFormatterOptions, string?> listener) => null;
    }

    // The console logger's own path: the formatter is handed a LogEntry and a writer.
    private sealed class CapturingLogger(ConsoleFormatter formatter) : ILogger
    {
        public StringWriter Text { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter1) =>
            formatter.Write(new LogEntry<TState>(logLevel, "Anchorage.Test", eventId, state, exception, formatter1), null, Text);
    }
}
