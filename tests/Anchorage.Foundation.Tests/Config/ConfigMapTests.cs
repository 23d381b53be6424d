using Anchorage.Foundation.Config;

namespace Anchorage.Foundation.Tests.Config;

public class ConfigMapTests
{
    // Inputs found by fuzz/run (policy, agent-config, server-config): YamlDotNet threw
    // InvalidOperationException or ArgumentException instead of a YamlException on them.
    public static TheoryData<string> ScannerFailures => new()
    {
        "apiaaaaadev/v1a:olicyu: none }\nspec: { ruXnicationPo\0\0\0\0\nmetadata: { name: none }\nspec: { rules: [] }\n",
        "trustDt@eam: { certFlin\uFFFD\uFFFDp\nm_..a|me>coup\n",
        "\0: xq*qN\uFFFD\uFFFDht\uFFFDv",
        "!!E[[E",
    };

    [Theory]
    [MemberData(nameof(ScannerFailures))]
    public void Load_InputThatBreaksTheYamlScanner_ReportsInvalidYaml(string yaml)
    {
        var errors = new ConfigErrorList("x.yaml");

        var root = ConfigMap.Load(yaml, errors);

        Assert.Null(root);
        Assert.Equal(["x.yaml: invalid YAML"], errors.ToImmutable().Select(e => e.ToString()));
    }

    [Fact]
    public void Load_FlowMappingControl_Loads()
    {
        var errors = new ConfigErrorList("x.yaml");

        var root = ConfigMap.Load("metadata: { name: none }\nspec: { rules: [] }\n", errors);

        Assert.NotNull(root);
        Assert.Empty(errors.ToImmutable());
    }
}
