using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Anchorage.Foundation.Audit.Internal;

namespace Anchorage.Foundation.Audit;

/// <summary>
/// The audit line format: one <see cref="AuditRecord"/> as one line of JSON (UTF-8, camelCase,
/// null fields left out, times in UTC ending in <c>Z</c>). Line breaks and control characters in
/// values are escaped, so a record is always exactly one line.
/// </summary>
public static class AuditJson
{
    /// <summary>Escaping for a log file, not HTML: <c>+</c>, <c>&lt;</c> and non-ASCII text stay readable; quotes and control characters are escaped.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes <paramref name="record"/> as JSON (no line break) to <paramref name="writer"/>.</summary>
    public static void Write(Utf8JsonWriter writer, AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(record);
        JsonSerializer.Serialize(writer, record, AuditJsonContext.Default.AuditRecord);
    }

    /// <summary>The record as one line of JSON, without the line break.</summary>
    public static string ToLine(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, record);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads one audit line back.</summary>
    /// <exception cref="FormatException">The line is not a JSON object with a <c>time</c> and a <c>kind</c>.</exception>
    public static AuditRecord Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        AuditRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(line, AuditJsonContext.Default.AuditRecord);
        }
        catch (JsonException e)
        {
            throw new FormatException("not an audit record: " + FirstLine(e.Message), e);
        }

        return record ?? throw new FormatException("not an audit record: null");
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
