using System.Globalization;
using System.Text;

namespace Anchorage.Foundation.Config;

/// <summary>
/// Durations as operators write them: one or more <c>&lt;integer&gt;&lt;unit&gt;</c> terms with units
/// <c>d</c>, <c>h</c>, <c>m</c>, <c>s</c>, <c>ms</c>, largest first, each at most once
/// (<c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>7d</c>). No sign, no fractions, no spaces.
/// </summary>
public static class Durations
{
    public const string Examples = "e.g. 90s, 5m, 24h";

    private static readonly (string Unit, long Ticks)[] Units =
    [
        ("d", TimeSpan.TicksPerDay),
        ("h", TimeSpan.TicksPerHour),
        ("ms", TimeSpan.TicksPerMillisecond),
        ("m", TimeSpan.TicksPerMinute),
        ("s", TimeSpan.TicksPerSecond),
    ];

    // Rank by size so "1h30m" is accepted and "30m1h" or "1m1m" is not.
    private static int Rank(string unit) => unit switch
    {
        "d" => 0,
        "h" => 1,
        "m" => 2,
        "s" => 3,
        _ => 4,
    };

    /// <summary>Parses <paramref name="text"/> in the grammar above.</summary>
    public static bool TryParse(string text, out TimeSpan value) => TryParse(text, out value, out _);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="tooLong"/> says whether it was well formed but beyond <see cref="TimeSpan"/>.</summary>
    public static bool TryParse(string text, out TimeSpan value, out bool tooLong)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = default;
        tooLong = false;
        if (text.Length == 0)
        {
            return false;
        }

        long total = 0;
        var lastRank = -1;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (i == start)
            {
                return false;
            }

            if (i - start > 12)
            {
                tooLong = Units.Any(u => text.AsSpan(i).StartsWith(u.Unit, StringComparison.Ordinal));
                return false;
            }

            var number = long.Parse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture);
            var unit = Units.FirstOrDefault(u => text.AsSpan(i).StartsWith(u.Unit, StringComparison.Ordinal));
            if (unit.Unit is null)
            {
                return false;
            }

            var rank = Rank(unit.Unit);
            if (rank <= lastRank)
            {
                return false;
            }

            lastRank = rank;
            i += unit.Unit.Length;
            try
            {
                total = checked(total + checked(number * unit.Ticks));
            }
            catch (OverflowException)
            {
                tooLong = true;
                return false;
            }
        }

        value = TimeSpan.FromTicks(total);
        return true;
    }

    /// <summary>The shortest form of <paramref name="value"/> in the same syntax, to the millisecond (<c>4h</c>, <c>1d4h</c>, <c>166ms</c>).</summary>
    public static string Format(TimeSpan value)
    {
        if (value < TimeSpan.FromMilliseconds(1))
        {
            return "0s";
        }

        var builder = new StringBuilder();
        var ticks = value.Ticks;
        foreach (var (unit, size) in new[] { ("d", TimeSpan.TicksPerDay), ("h", TimeSpan.TicksPerHour), ("m", TimeSpan.TicksPerMinute), ("s", TimeSpan.TicksPerSecond), ("ms", TimeSpan.TicksPerMillisecond) })
        {
            var count = ticks / size;
            ticks -= count * size;
            if (count > 0)
            {
                builder.Append(count.ToString(CultureInfo.InvariantCulture)).Append(unit);
            }
        }

        return builder.ToString();
    }
}
