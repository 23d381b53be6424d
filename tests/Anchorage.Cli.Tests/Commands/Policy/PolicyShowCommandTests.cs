using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;
using CommonPolicy = Anchorage.Protos.Common.V1.Policy;

namespace Anchorage.Cli.Tests.Commands.Policy;

/// <summary><c>policy show [--output yaml|json]</c> against the recording admin API.</summary>
public sealed class PolicyShowCommandTests : AdminTestBase
{
    private const long UpdatedAt = 1_777_636_800; // 2026-05-01T12:00:00Z

    private const string Text = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-to-payments
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:path:/usr/bin/web"] }
              to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
            - name: no-legacy
              action: deny
              from: { trustDomain: legacy.acme.corp }
              to:   { trustDomain: acme.corp }
        """;

    private void Stored(string yaml = Text) =>
        Api.On<GetPolicyRequest, CommonPolicy>("GetPolicy", _ => new CommonPolicy { Name = "acme", Yaml = yaml, Version = 4, UpdatedAt = UpdatedAt });

    [Fact]
    public async Task Show_Default_TheTextAsApplied()
    {
        Stored();

        var result = await RunAsync("policy", "show");

        Assert.Equal((0, Text + "\n", ""), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Show_Json_NameVersionTimeAndRules()
    {
        Stored();

        var result = await RunAsync("policy", "show", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.Equal("acme", root.GetProperty("name").GetString());
        Assert.Equal(4, root.GetProperty("version").GetInt64());
        Assert.Equal("2026-05-01T12:00:00Z", root.GetProperty("updatedAt").GetString());
        Assert.Equal("enforce", root.GetProperty("mode").GetString());
        var rules = root.GetProperty("rules");
        Assert.Equal(2, rules.GetArrayLength());
        Assert.Equal(
            """{"name":"web-to-payments","action":"allow","from":{"spiffeId":"spiffe://acme.corp/web/*","selectors":["unix:path:/usr/bin/web"]},"to":{"spiffeId":"spiffe://payments.acme.corp/api","port":8443}}""",
            JsonSerializer.Serialize(rules[0]));
        Assert.Equal(
            """{"name":"no-legacy","action":"deny","from":{"trustDomain":"legacy.acme.corp","selectors":[]},"to":{"trustDomain":"acme.corp","port":null}}""",
            JsonSerializer.Serialize(rules[1]));
    }

    [Fact]
    public async Task Show_NoneApplied_Exit1WithTheServersWords()
    {
        Api.Fail("GetPolicy", StatusCode.NotFound, "no policy has been applied");

        var result = await RunAsync("policy", "show");

        Assert.Equal((1, "", "error: no policy has been applied\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Show_UnknownOutput_UsageError()
    {
        var result = await RunAsync("policy", "show", "--output", "table");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --output \"table\" is not one of: yaml, json\n", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);

        // Positive control: a known format is accepted.
        Stored();
        Assert.Equal(0, (await RunAsync("policy", "show", "--output", "yaml")).ExitCode);
    }
}
