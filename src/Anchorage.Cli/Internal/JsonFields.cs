using System.Text.Json;

namespace Anchorage.Cli.Internal;

/// <summary>
/// The JSON output's conventions for a field that may be absent, written once for every command's
/// <c>-o json</c>: an absent value is <c>null</c>, never a made-up zero or an empty string.
/// </summary>
internal static class JsonFields
{
    /// <summary>A time as <see cref="Tables.Time"/> prints it; null for 0 (never set).</summary>
    public static void WriteTimeOrNull(this Utf8JsonWriter w, string name, long unixSeconds)
    {
        if (unixSeconds == 0)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, Tables.Time(unixSeconds));
        }
    }

    /// <summary>The string; null for an empty one.</summary>
    public static void WriteStringOrNull(this Utf8JsonWriter w, string name, string value)
    {
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
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, long value)
    {
        if (present)
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, bool, long)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, ulong value)
    {
        if (present)
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, bool, long)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, bool present, double value)
    {
        if (present)
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>The number; null when there is none.</summary>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, long? value) =>
        w.WriteNumberOrNull(name, value.HasValue, value.GetValueOrDefault());

    /// <inheritdoc cref="WriteNumberOrNull(Utf8JsonWriter, string, long?)"/>
    public static void WriteNumberOrNull(this Utf8JsonWriter w, string name, ulong? value) =>
        w.WriteNumberOrNull(name, value.HasValue, value.GetValueOrDefault());

    /// <summary>An array of strings (empty when there are none).</summary>
    public static void WriteStrings(this Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteStringValue(v);
        }

        w.WriteEndArray();
    }
}
