using Anchorage.Agent.Config;
using Anchorage.Foundation.Logging;

namespace Anchorage.Agent.Tests.Config;

/// <summary>agent.yaml's <c>logging:</c> mapping (the same reader as server.yaml's).</summary>
public class AgentConfigLoaderLoggingTests
{
    private const string Base = "trustDomain: acme.corp\nserverAddress: server.acme.corp:8081\ntrustBundleFile: /etc/anchorage/bundle.json\n";

    [Fact]
    public void Parse_NoLogging_Text()
    {
        Assert.Equal(LogFormat.Text, AgentConfigLoader.Parse(Base).Value!.Logging.Format);
    }

    [Fact]
    public void Parse_LoggingJson_Json()
    {
        var result = AgentConfigLoader.Parse(Base + "logging: { format: json }\n");

        Assert.True(result.IsValid, string.Join("\n", result.ErrorLines));
        Assert.Equal(LogFormat.Json, result.Value!.Logging.Format);
    }

    [Fact]
    public void Parse_LoggingInvalid_ErrorWithLineAndPath()
    {
        var result = AgentConfigLoader.Parse(Base + "logging:\n  format: JSON\n");

        Assert.Equal(["agent.yaml:5: logging.format: \"JSON\" is not text or json"], result.ErrorLines);
    }
}
