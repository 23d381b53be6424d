using System.Globalization;

namespace Anchorage.Foundation.Text;

/// <summary>
/// How every host and tool prints a time for people and scripts: RFC 3339 in UTC to the second
/// (<c>2026-11-23T01:04:05Z</c>), the same in tables, JSON output, the web console and messages.
/// </summary>
public static class Rfc3339
{
    /// <summary><paramref name="time"/> in UTC, to the second.</summary>
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Unix seconds in UTC, as <see cref="Format"/>.</summary>
    public static string FromUnixSeconds(long unixSeconds) => Format(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));
}
