using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Durations as operators write them: whole numbers with units d, h, m, s, largest first, each
/// at most once (<c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>7d</c>). Always a positive whole
/// number of seconds, which is what the admin API carries.
/// </summary>
internal static class Durations
{
    /// <summary>The longest duration accepted: 100 years, far beyond any sane TTL.</summary>
    private const long MaxSeconds = 100L * 365 * 24 * 3600;

    private static readonly (char Unit, long Seconds)[] Units = [('d', 86400), ('h', 3600), ('m', 60), ('s', 1)];

    /// <summary>Parses <paramref name="text"/> given for <paramref name="option"/>.</summary>
    /// <exception cref="CliException">The text is not a duration (exit 2), naming the option.</exception>
    public static TimeSpan Parse(string option, string text) =>
        TryParse(text, out var duration, out var error)
            ? duration
            : throw CliException.Usage($"{option} \"{text}\": {error}");

    /// <summary>Parses a duration and, on failure, says why.</summary>
    public static bool TryParse(string? text, out TimeSpan duration, [NotNullWhen(false)] out string? error)
    {
        duration = default;
        error = "not a duration such as 90s, 5m, 1h30m or 7d";
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        long total = 0;
        var nextUnit = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == start || i == text.Length)
            {
                return false;
            }

            var unit = Array.FindIndex(Units, nextUnit, u => u.Unit == text[i]);
            if (unit < 0)
            {
                return false;
            }

            if (!long.TryParse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
                || amount > MaxSeconds / Units[unit].Seconds)
            {
                error = "is too long";
                return false;
            }

            total += amount * Units[unit].Seconds;
            if (total > MaxSeconds)
            {
                error = "is too long";
                return false;
            }

            nextUnit = unit + 1;
            i++;
        }

        if (total == 0)
        {
            error = "must be longer than zero";
            return false;
        }

        duration = TimeSpan.FromSeconds(total);
        error = null;
        return true;
    }

    /// <summary>Whole seconds as this parser writes them (<c>1h30m</c>); <c>-</c> for zero (server default).</summary>
    public static string Format(long seconds)
    {
        if (seconds <= 0)
        {
            return "-";
        }

        var text = new StringBuilder();
        foreach (var (unit, size) in Units)
        {
            if (seconds >= size)
            {
                text.Append((seconds / size).ToString(CultureInfo.InvariantCulture)).Append(unit);
                seconds %= size;
            }
        }

        return text.ToString();
    }
}
