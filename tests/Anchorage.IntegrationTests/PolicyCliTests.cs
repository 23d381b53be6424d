using System.Text.Json;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests;

/// <summary><c>anchorage policy apply|show</c> against a real server: the server's validation reaches the operator intact.</summary>
public sealed class PolicyCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Write(string action, string port)
    {
        var path = Path.Combine(_dir.Path, "policy.yaml");
        File.WriteAllText(path, $$"""
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: web-to-api
                  action: {{action}}
                  from: { spiffeId: "spiffe://acme.corp/web/*" }
                  to: { spiffeId: "spiffe://acme.corp/api", port: {{port}} }

            """);
        return path;
    }

    [Fact]
    public async Task ApplyThenShow_RealServer_VersionsErrorsAndJson()
    {
        await using var server = await TestServer.StartAsync();

        var none = await server.CliAsync("policy", "show");
        Assert.Equal((1, "error: no policy has been applied\n"), (none.ExitCode, none.Error));

        var bad = Write("maybe", "0");
        var refused = await server.CliAsync("policy", "apply", "-f", bad);
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal(
            $"error: {bad}:7: spec.rules[0].action: \"maybe\" is not allow or deny\n" +
            $"error: {bad}:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)\n",
            refused.Error);
        Assert.Equal(1, (await server.CliAsync("policy", "show")).ExitCode);

        // Positive control: the same file with the defects switched off.
        var good = Write("allow", "8443");
        var applied = await server.CliAsync("policy", "apply", "-f", good);
        Assert.Equal((0, "policy acme applied: version 1\n", ""), (applied.ExitCode, applied.Out, applied.Error));
        Assert.Equal("policy acme unchanged: version 1\n", (await server.CliAsync("policy", "apply", "-f", good)).Out);
        Assert.Equal("policy acme applied: version 2\n", (await server.CliAsync("policy", "apply", "-f", Write("deny", "8443"))).Out);

        var yaml = await server.CliAsync("policy", "show");
        Assert.Equal((0, await File.ReadAllTextAsync(good)), (yaml.ExitCode, yaml.Out));
        var json = await server.CliAsync("policy", "show", "-o", "json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.Equal(2, document.RootElement.GetProperty("version").GetInt64());
        Assert.Equal("deny", document.RootElement.GetProperty("rules")[0].GetProperty("action").GetString());
    }
}
