using Anchorage.Foundation.Config;

namespace Anchorage.Foundation.Tests.Config;

public class DurationsTests
{
    [Theory]
    [InlineData("0s", 0L)]
    [InlineData("250ms", 250L)]
    [InlineData("90s", 90_000L)]
    [InlineData("1h30m", 5_400_000L)]
    [InlineData("7d", 604_800_000L)]
    [InlineData("1d1h1m1s1ms", 90_061_001L)]
    public void TryParse_Valid_ReturnsMilliseconds(string text, long milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("m")]
    [InlineData("-5m")]
    [InlineData("5 m")]
    [InlineData("1.5h")]
    [InlineData("5M")]
    [InlineData("30m1h")]
    [InlineData("1m1m")]
    [InlineData("5w")]
    [InlineData("9999999999999d")]
    [InlineData("99999999999d")]
    public void TryParse_Invalid_ReturnsFalse(string text) => Assert.False(Durations.TryParse(text, out _));

    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(166L, "166ms")]
    [InlineData(600_000L, "10m")]
    [InlineData(14_400_000L, "4h")]
    [InlineData(100_800_000L, "1d4h")]
    [InlineData(5_400_500L, "1h30m500ms")]
    public void Format_Value_IsShortestForm(long milliseconds, string expected)
    {
        var text = Durations.Format(TimeSpan.FromMilliseconds(milliseconds));

        Assert.Equal(expected, text);
        Assert.True(Durations.TryParse(text, out var back));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), back);
    }
}
