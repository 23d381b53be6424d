using Anchorage.Foundation.Logging;
using Anchorage.Server.Config;

namespace Anchorage.Server.Tests.Config;

/// <summary>server.yaml's <c>logging:</c> mapping, read by the shared <see cref="LoggingConfig"/>.</summary>
public class ServerConfigLoaderLoggingTests
{
    [Theory]
    [InlineData("logging: { format: json }\n", LogFormat.Json)]
    [InlineData("logging: { format: text }\n", LogFormat.Text)]
    [InlineData("logging: {}\n", LogFormat.Text)]
    [InlineData("", LogFormat.Text)]
    public void Parse_LoggingFormat_ReturnsIt(string yaml, LogFormat expected)
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\n" + yaml);

        Assert.True(result.IsValid, string.Join("\n", result.ErrorLines));
        Assert.Equal(expected, result.Value.Logging.Format);
    }

    [Fact]
    public void Parse_LoggingInvalid_EveryErrorWithLineAndPath()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\nlogging:\n  format: xml\n  level: debug\n");

        Assert.False(result.IsValid);
        Assert.Equal(
            [
                "server.yaml:3: logging.format: \"xml\" is not text or json",
                "server.yaml:4: logging.level: unknown setting",
            ],
            result.ErrorLines);
    }

    [Fact]
    public void Parse_LoggingNotAMapping_Error()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\nlogging: json\n");

        Assert.Equal(["server.yaml:2: logging: must be a mapping of settings"], result.ErrorLines);
    }
}
