using System.Text.Json;
using Anchorage.Foundation.Text;

namespace Anchorage.Foundation.Json;

/// <summary>
/// The JSON output's conventions, written once for the CLI's <c>-o json</c> and the server's JSON
/// (web console, federation map): an absent value is <c>null</c>, never a made-up zero or an empty
/// string; times are <see cref="Rfc3339"/> strings; lists are arrays, empty when there is nothing.
/// </summary>
public static class JsonFields
{
    /// <summary>Unix seconds as an <see cref="Rfc3339"/> string; null for 0 (never set).</summary>
    public static void WriteTimeOrNull(this Utf8JsonWriter w, string name, long unixSeconds)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (unixSeconds == 0)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, Rfc3339.FromUnixSeconds(unixSeconds));
        }
    }

    /// <summary>The string; null for an empty one.</summary>
    public static void WriteStringOrNull(this Utf8JsonWriter w, string name, string value)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    /// <summary>The number when <paramref name="present"/>; otherwise null (the value is then a placeholder).</summary>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, long value) =>
        WriteOrNull(w, name, present, value, static (w, v) => w.WriteNumberValue(v));

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, bool, long)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, ulong value) =>
        WriteOrNull(w, name, present, value, static (w, v) => w.WriteNumberValue(v));

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, bool, long)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, double value) =>
        WriteOrNull(w, name, present, value, static (w, v) => w.WriteNumberValue(v));

    /// <summary>The number; null when there is none.</summary>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, long? value) =>
        w.WriteNumberOrNull(name, value.HasValue, value.GetValueOrDefault());

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, long?)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, ulong? value) =>
        w.WriteNumberOrNull(name, value.HasValue, value.GetValueOrDefault());

    /// <summary>A property holding an array of strings (empty when there are none).</summary>
    public static void WriteStrings(this Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WritePropertyName(name);
        w.WriteStringsValue(values);
    }

    /// <summary>An array of strings as a value (empty when there are none).</summary>
    public static void WriteStringsValue(this Utf8JsonWriter w, IEnumerable<string> values)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(values);
        w.WriteStartArray();
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }

    /// <summary>
    /// A property holding an array with one object per item: <paramref name="writeFields"/> writes
    /// an item's fields between the object's braces.
    /// </summary>
    public static void WriteObjects<T>(this Utf8JsonWriter w, string name, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeFields)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(writeFields);
        w.WriteStartArray(name);
        foreach (var item in items)
        {
            w.WriteStartObject();
            writeFields(w, item);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteOrNull<T>(Utf8JsonWriter w, string name, bool present, T value, Action<Utf8JsonWriter, T> write)
    {
        ArgumentNullException.ThrowIfNull(w);
        w.WritePropertyName(name);
        if (present)
        {
            write(w, value);
        }
        else
        {
            w.WriteNullValue();
        }
    }
}
