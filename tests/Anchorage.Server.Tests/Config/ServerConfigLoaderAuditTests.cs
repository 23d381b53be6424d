using Anchorage.Foundation.Audit;
using Anchorage.Server.Config;

namespace Anchorage.Server.Tests.Config;

/// <summary>server.yaml's <c>audit:</c> mapping, read by the shared <see cref="AuditConfig"/>.</summary>
public class ServerConfigLoaderAuditTests
{
    [Fact]
    public void Parse_AuditGiven_ReturnsItsOptions()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\naudit: { file: /var/log/anchorage/server-audit.jsonl, maxSizeMB: 10, keep: 3 }\n");

        Assert.True(result.IsValid, string.Join("\n", result.ErrorLines));
        Assert.Equal(new AuditOptions { File = "/var/log/anchorage/server-audit.jsonl", MaxSizeMB = 10, Keep = 3 }, result.Value.Audit);
    }

    [Fact]
    public void Parse_NoAudit_AuditIsNull()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\n");

        Assert.True(result.IsValid);
        Assert.Null(result.Value.Audit);
    }

    [Fact]
    public void Parse_AuditInvalid_EveryErrorWithLineAndPath()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\naudit:\n  file: audit.jsonl\n  maxSizeMB: big\n  keep: 2\n  rotate: true\n");

        Assert.False(result.IsValid);
        Assert.Equal(
            [
                "server.yaml:3: audit.file: \"audit.jsonl\" must be an absolute path",
                "server.yaml:4: audit.maxSizeMB: \"big\" is not a whole number from 1 to 1048576",
                "server.yaml:6: audit.rotate: unknown setting",
            ],
            result.ErrorLines);
    }
}
