using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Testing.X509;

/// <summary>The fixed "now" that test certificates are built around, and a fake clock set to it.</summary>
public static class TestClock
{
    /// <summary>2030-01-01T00:00:00Z. Test CAs are valid from a day before to a year after; leaves for an hour either side.</summary>
    public static readonly DateTimeOffset Now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A fake clock at <see cref="Now"/> (or at <paramref name="at"/>).</summary>
    public static FakeTimeProvider Create(DateTimeOffset? at = null) => new(at ?? Now);
}
