using System.Globalization;
using System.Text.Json;
using Anchorage.Foundation.Json;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// A relationship's fetch history (issue 16 item 2) as <c>federation show</c> prints it: a short
/// table of the latest fetches after the fields, and the <c>fetches</c> array of the JSON object
/// (<c>time</c>, <c>outcome</c>, <c>message</c>, <c>sequence</c>, <c>refreshHintSeconds</c>,
/// <c>clockSkewSeconds</c>; absent ones null).
/// </summary>
internal static class FederationHistoryOutput
{
    /// <summary>How many fetches the table shows (the JSON has every stored one).</summary>
    public const int TableRows = 10;

    /// <summary>Writes the section: a heading and a table of the newest <see cref="TableRows"/> fetches, or a line saying there are none.</summary>
    public static void WriteSection(TextWriter writer, FederationStatus s)
    {
        writer.WriteLine();
        if (s.Fetches.Count == 0)
        {
            writer.WriteLine("fetch history: none recorded yet");
            return;
        }

        writer.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"fetch history (newest {Math.Min(TableRows, s.Fetches.Count)} of {s.Fetches.Count} kept):"));
        Tables.Write(
            writer,
            ["TIME", "OUTCOME", "SEQUENCE", "REFRESH HINT", "CLOCK SKEW", "ERROR"],
            s.Fetches.Take(TableRows).Select(f => new[]
            {
                Tables.Time(f.TimeMs / 1000),
                f.Outcome,
                f.HasSequence ? f.Sequence.ToString(CultureInfo.InvariantCulture) : "-",
                f.RefreshHintSeconds > 0 ? Durations.Format(f.RefreshHintSeconds) : "-",
                f.HasClockSkew ? string.Create(CultureInfo.InvariantCulture, $"{f.ClockSkewMs / 1000.0:+0.0;-0.0;0.0}s") : "-",
                f.Message.Length == 0 ? "-" : f.Message,
            }));
    }

    /// <summary>Writes the <c>fetches</c> array.</summary>
    public static void WriteJson(Utf8JsonWriter w, FederationStatus s)
    {
        w.WriteObjects("fetches", s.Fetches, static (w, f) =>
        {
            w.WriteString("time", DateTimeOffset.FromUnixTimeMilliseconds(f.TimeMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            w.WriteString("outcome", f.Outcome);
            w.WriteStringOrNull("message", f.Message);
            w.WriteNumberOrNull("sequence", f.HasSequence, f.Sequence);
            w.WriteNumberOrNull("refreshHintSeconds", f.RefreshHintSeconds > 0, f.RefreshHintSeconds);
            w.WriteNumberOrNull("clockSkewSeconds", f.HasClockSkew, f.ClockSkewMs / 1000.0);
        });
    }
}
