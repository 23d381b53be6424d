using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Anchorage.Cli.Internal;

/// <summary>
/// <c>logging: { format: json }</c>: one JSON object per line, for log shippers:
/// <c>{"time":"2026-01-02T03:04:05.678Z","level":"Warning","category":"...","eventId":1201,"event":"Name","message":"...","fields":{...}}</c>
/// plus <c>"exception"</c> when there is one. The fields are the event's named values (what the
/// text format interpolates), so events are filterable without parsing the message; the events
/// themselves never carry key material (CONVENTIONS: no keys, tokens or CSRs in logs).
/// </summary>
/// <remarks>Written with <see cref="Utf8JsonWriter"/> (no reflection): safe to trim.</remarks>
internal sealed class JsonLineLogFormatter : ConsoleFormatter
{
    /// <summary>The name the console logger selects this formatter by.</summary>
    public const string FormatterName = "anchorage-json";

    private const string OriginalFormat = "{OriginalFormat}";

    private readonly TimeProvider _time;

    public JsonLineLogFormatter(IOptionsMonitor<ConsoleFormatterOptions> options, TimeProvider time)
        : base(FormatterName)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time;
    }

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            json.WriteStartObject();
            json.WriteString("time", _time.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteString("level", logEntry.LogLevel.ToString());
            json.WriteString("category", logEntry.Category);
            json.WriteNumber("eventId", logEntry.EventId.Id);
            if (!string.IsNullOrEmpty(logEntry.EventId.Name))
            {
                json.WriteString("event", logEntry.EventId.Name);
            }

            json.WriteString("message", message ?? string.Empty);
            if (logEntry.State is IReadOnlyList<KeyValuePair<string, object?>> fields && fields.Count > 0)
            {
                json.WriteStartObject("fields");
                foreach (var (name, value) in fields)
                {
                    if (name != OriginalFormat)
                    {
                        WriteValue(json, name, value);
                    }
                }

                json.WriteEndObject();
            }

            if (logEntry.Exception is { } exception)
            {
                json.WriteString("exception", exception.ToString());
            }

            json.WriteEndObject();
        }

        textWriter.Write(System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan));
        textWriter.Write('\n');
    }

    private static void WriteValue(Utf8JsonWriter json, string name, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(name);
                break;
            case bool b:
                json.WriteBoolean(name, b);
                break;
            case int or long or short or byte or uint or ushort or sbyte:
                json.WriteNumber(name, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                json.WriteNumber(name, u);
                break;
            case double or float or decimal:
                json.WriteNumber(name, Convert.ToDouble(value, CultureInfo.InvariantCulture));
                break;
            case IFormattable formattable:
                json.WriteString(name, formattable.ToString(null, CultureInfo.InvariantCulture));
                break;
            default:
                json.WriteString(name, value.ToString());
                break;
        }
    }
}
