using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Durations on the command line and in entry files: the one grammar of
/// <see cref="Foundation.Config.Durations"/> (<c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>7d</c>), and
/// always a positive whole number of seconds, which is what the admin API carries.
/// </summary>
internal static class Durations
{
    /// <summary>The longest duration accepted: 100 years, far beyond any sane TTL.</summary>
    private static readonly TimeSpan Max = TimeSpan.FromDays(100 * 365);

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

        if (!Foundation.Config.Durations.TryParse(text, out var parsed, out var tooLong))
        {
            error = tooLong ? "is too long" : error;
            return false;
        }

        if (parsed > Max)
        {
            error = "is too long";
            return false;
        }

        if (parsed.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            error = "must be a whole number of seconds";
            return false;
        }

        if (parsed == TimeSpan.Zero)
        {
            error = "must be longer than zero";
            return false;
        }

        duration = parsed;
        error = null;
        return true;
    }

    /// <summary>Whole seconds as the grammar writes them (<c>1h30m</c>); <c>-</c> for zero (server default).</summary>
    public static string Format(long seconds) =>
        seconds <= 0 ? "-" : Foundation.Config.Durations.Format(TimeSpan.FromSeconds(seconds));
}
