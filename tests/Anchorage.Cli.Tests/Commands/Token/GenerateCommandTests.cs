using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Tests.Commands.Token;

public sealed class GenerateCommandTests : AdminTestBase
{
    private static GenerateJoinTokenResponse Issued => new()
    {
        Token = "tok1.s3cr3t",
        Id = "tok1",
        ExpiresAt = 1_763_800_000,
        AgentSpiffeId = "spiffe://acme.corp/anchorage/agent/join_token/tok1",
    };

    [Fact]
    public async Task Generate_Default_PrintsTheTokenAlone()
    {
        Api.On("GenerateJoinToken", (GenerateJoinTokenRequest _) => Issued);

        var result = await RunAsync("token", "generate");

        Assert.Equal((0, "tok1.s3cr3t\n", string.Empty), (result.ExitCode, result.Out, result.Error));
        var request = Api.Only<GenerateJoinTokenRequest>("GenerateJoinToken");
        Assert.Equal((0L, string.Empty), (request.TtlSeconds, request.SpiffeId));
    }

    [Fact]
    public async Task Generate_TtlAndAlias_MapToTheRequest()
    {
        Api.On("GenerateJoinToken", (GenerateJoinTokenRequest _) => Issued);

        var result = await RunAsync("token", "generate", "--ttl", "10m", "--spiffe-id", "spiffe://acme.corp/node/web-1");

        Assert.Equal(0, result.ExitCode);
        var request = Api.Only<GenerateJoinTokenRequest>("GenerateJoinToken");
        Assert.Equal((600L, "spiffe://acme.corp/node/web-1"), (request.TtlSeconds, request.SpiffeId));
    }

    [Fact]
    public async Task Generate_Json_AddsIdExpiryAndAgentId()
    {
        Api.On("GenerateJoinToken", (GenerateJoinTokenRequest _) => Issued);

        var result = await RunAsync("token", "generate", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.Equal(
            ("tok1.s3cr3t", "tok1", "1763800000", "spiffe://acme.corp/anchorage/agent/join_token/tok1"),
            (root.GetProperty("token").GetString(), root.GetProperty("id").GetString(), root.GetProperty("expiresAt").GetString(), root.GetProperty("agentSpiffeId").GetString()));
    }

    [Fact]
    public async Task Generate_BadTtl_ExitsTwoAndSendsNothing()
    {
        var result = await RunAsync("token", "generate", "--ttl", "0s");

        Assert.Equal((2, "error: --ttl \"0s\": must be longer than zero\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }
}
