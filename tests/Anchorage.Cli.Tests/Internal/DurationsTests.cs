using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Tests.Internal;

public sealed class DurationsTests
{
    public static TheoryData<string, long> Valid => new()
    {
        { "90s", 90 },
        { "5m", 300 },
        { "1h", 3600 },
        { "1h30m", 5400 },
        { "7d", 604800 },
        { "1d2h3m4s", 93784 },
        { "0h1s", 1 },
        { "2s0ms", 2 },
    };

    public static TheoryData<string, string> Invalid => new()
    {
        { "", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "90", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "h", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "5x", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "30m1h", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "1h1h", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "1.5h", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "-5m", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { " 5m", "not a duration such as 90s, 5m, 1h30m or 7d" },
        { "0s", "must be longer than zero" },
        { "99999999999999999999d", "is too long" },
        { "36501d", "is too long" },
        { "1500ms", "must be a whole number of seconds" },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void TryParse_Valid_ReturnsWholeSeconds(string text, long seconds)
    {
        Assert.True(Durations.TryParse(text, out var duration, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void TryParse_Invalid_SaysWhy(string text, string expected)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Parse_Invalid_NamesTheOption()
    {
        var ex = Assert.Throws<CliException>(() => Durations.Parse("--ttl", "5x"));

        Assert.Equal((2, "error: --ttl \"5x\": not a duration such as 90s, 5m, 1h30m or 7d"), (ex.ExitCode, ex.Message));
    }

    [Theory]
    [InlineData(0, "-")]
    [InlineData(90, "1m30s")]
    [InlineData(5400, "1h30m")]
    [InlineData(604800, "7d")]
    public void Format_Seconds_RoundTripsThroughParse(long seconds, string text)
    {
        Assert.Equal(text, Durations.Format(seconds));
        if (seconds > 0)
        {
            Assert.Equal(TimeSpan.FromSeconds(seconds), Durations.Parse("--ttl", text));
        }
    }
}
