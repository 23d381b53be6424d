using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;

namespace Anchorage.Foundation.Tests.Audit;

public class AuditConfigTests
{
    public static TheoryData<string, string> InvalidMappings => new()
    {
        { "audit:\n  maxSizeMB: 5\n", "test.yaml:1: audit.file: required" },
        { "audit:\n  file: audit.jsonl\n", "test.yaml:2: audit.file: \"audit.jsonl\" must be an absolute path" },
        { "audit:\n  file: /var/log/anchorage/\n", "test.yaml:2: audit.file: \"/var/log/anchorage/\" must name a file, not a directory" },
        { "audit:\n  file: /a.jsonl\n  maxSizeMB: 0\n", "test.yaml:3: audit.maxSizeMB: \"0\" is not a whole number from 1 to 1048576" },
        { "audit:\n  file: /a.jsonl\n  maxSizeMB: 1.5\n", "test.yaml:3: audit.maxSizeMB: \"1.5\" is not a whole number from 1 to 1048576" },
        { "audit:\n  file: /a.jsonl\n  keep: -1\n", "test.yaml:3: audit.keep: \"-1\" is not a whole number from 0 to 1000" },
        { "audit:\n  file: /a.jsonl\n  keep: 1001\n", "test.yaml:3: audit.keep: \"1001\" is not a whole number from 0 to 1000" },
        { "audit:\n  file: /a.jsonl\n  maxsizemb: 5\n", "test.yaml:3: audit.maxsizemb: unknown setting; did you mean maxSizeMB?" },
        { "audit: /a.jsonl\n", "test.yaml:1: audit: must be a mapping of settings" },
        { "audit:\n  file: [/a]\n", "test.yaml:2: audit.file: must be a single value, not a list" },
    };

    [Fact]
    public void Read_FullMapping_ReturnsOptions()
    {
        var (options, errors) = Read("audit: { file: /var/log/anchorage/audit.jsonl, maxSizeMB: 7, keep: 0 }\n");

        Assert.Empty(errors);
        Assert.Equal(new AuditOptions { File = "/var/log/anchorage/audit.jsonl", MaxSizeMB = 7, Keep = 0 }, options);
    }

    [Fact]
    public void Read_FileOnly_DefaultsApply()
    {
        var (options, errors) = Read("audit:\n  file: /var/log/anchorage/audit.jsonl\n");

        Assert.Empty(errors);
        Assert.Equal(new AuditOptions { File = "/var/log/anchorage/audit.jsonl", MaxSizeMB = 100, Keep = 5 }, options);
    }

    [Theory]
    [InlineData("other: 1\n")]
    [InlineData("audit:\n")]
    [InlineData("audit: ~\n")]
    public void Read_Absent_ReturnsNullWithoutError(string yaml)
    {
        var (options, errors) = Read(yaml);

        Assert.Null(options);
        Assert.Empty(errors);
    }

    [Theory]
    [MemberData(nameof(InvalidMappings))]
    public void Read_Invalid_ReportsErrorWithLineAndPath(string yaml, string expected)
    {
        var (options, errors) = Read(yaml);

        Assert.Null(options);
        Assert.Equal([expected], errors);
    }

    [Fact]
    public void Read_NestedUnderGate_PathNamesGateAudit()
    {
        var errors = new ConfigErrorList("agent.yaml");
        var root = ConfigMap.Load("gate:\n  audit:\n    file: /a.jsonl\n    keep: x\n", errors)!;
        var options = AuditConfig.Read(root.Section("gate").Get("audit"));

        Assert.Null(options);
        Assert.Equal(["agent.yaml:4: gate.audit.keep: \"x\" is not a whole number from 0 to 1000"], errors.ToImmutable().Select(e => e.ToString()));
    }

    private static (AuditOptions? Options, string[] Errors) Read(string yaml)
    {
        var errors = new ConfigErrorList("test.yaml");
        var root = ConfigMap.Load(yaml, errors)!;
        var options = AuditConfig.Read(root.Get("audit"));
        return (options, [.. errors.ToImmutable().Select(e => e.ToString())]);
    }
}
