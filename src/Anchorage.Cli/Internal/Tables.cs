using Anchorage.Foundation.Text;
using Spectre.Console;

namespace Anchorage.Cli.Internal;

/// <summary>Plain-text tables and key/value blocks for <c>--output table</c>.</summary>
internal static class Tables
{
    /// <summary>Unix seconds as RFC 3339 UTC; <c>-</c> for zero (unset).</summary>
    public static string Time(long unixSeconds) => unixSeconds == 0 ? "-" : Rfc3339.FromUnixSeconds(unixSeconds);

    /// <summary>A list for one cell; <c>-</c> when empty.</summary>
    public static string List(IEnumerable<string> items)
    {
        var text = string.Join(", ", items);
        return text.Length == 0 ? "-" : text;
    }

    /// <summary>Writes a table with <paramref name="columns"/> and <paramref name="rows"/> (cells escaped).</summary>
    public static void Write(TextWriter writer, string[] columns, IEnumerable<string[]> rows)
    {
        var table = new Table().AddColumns(columns);
        foreach (var row in rows)
        {
            table.AddRow(row.Select(Markup.Escape).ToArray());
        }

        // Wide enough never to wrap a row: tables are read by scripts (grep, awk) as well as people.
        var console = OutputOption.Console(writer);
        console.Profile.Width = 4096;
        console.Write(table);
    }

    /// <summary>Writes <c>key: value</c> lines with the values aligned.</summary>
    public static void WriteFields(TextWriter writer, IReadOnlyList<(string Key, string Value)> fields)
    {
        var width = fields.Max(f => f.Key.Length) + 2;
        foreach (var (key, value) in fields)
        {
            writer.WriteLine((key + ":").PadRight(width) + value);
        }
    }
}
