using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Anchorage.Foundation.Audit.Internal;

/// <summary>The audit line's JSON shape, generated at build time: camelCase, null fields left out, times in UTC with <c>Z</c>.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    Converters = [typeof(UtcTimeConverter)])]
[JsonSerializable(typeof(AuditRecord))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;

/// <summary>Writes every time as UTC ISO 8601 (<c>2026-11-23T01:21:35.1234567Z</c>) so lines sort and compare as text; reads any offset.</summary>
internal sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TryGetDateTimeOffset(out var value)
            ? value
            : throw new JsonException("time must be an ISO 8601 date and time");

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
}
