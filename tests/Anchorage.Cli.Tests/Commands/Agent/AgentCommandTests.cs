using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Common.V1;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Commands.Agent;

public sealed class AgentCommandTests : AdminTestBase
{
    private const string Node1 = "spiffe://acme.corp/anchorage/agent/join_token/tok1";

    private static AgentInfo Info(string id, bool banned = false) => new()
    {
        SpiffeId = id,
        AttestationType = "join_token",
        CertSerial = "0a1b2c",
        CertExpiresAt = 1_763_800_000,
        Banned = banned,
        Selectors = { new Selector { Type = "join_token", Value = "tok1" } },
        CreatedAt = 1_763_700_000,
    };

    [Fact]
    public async Task List_Table_ShowsOneRowPerAgent()
    {
        Api.On("ListAgents", (ListAgentsRequest _) => new ListAgentsResponse { Agents = { Info(Node1), Info("spiffe://acme.corp/anchorage/agent/join_token/tok2", banned: true) } });

        var result = await RunAsync("agent", "list");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.Split('\n');
        Assert.Contains(lines, l => l.Contains("SPIFFE ID", StringComparison.Ordinal) && l.Contains("BANNED", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(Node1, StringComparison.Ordinal) && l.Contains("join_token", StringComparison.Ordinal) && l.Contains("2025-11-22T08:26:40Z", StringComparison.Ordinal) && l.Contains(" no ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("tok2", StringComparison.Ordinal) && l.Contains(" yes ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_Json_ListsAgentsInTheProtoMapping()
    {
        Api.On("ListAgents", (ListAgentsRequest _) => new ListAgentsResponse { Agents = { Info(Node1) } });

        var result = await RunAsync("agent", "list", "-o", "json");

        using var json = JsonDocument.Parse(result.Out);
        var agent = Assert.Single(json.RootElement.GetProperty("agents").EnumerateArray().ToArray());
        Assert.Equal((Node1, "join_token", "1763800000"), (agent.GetProperty("spiffeId").GetString(), agent.GetProperty("attestationType").GetString(), agent.GetProperty("certExpiresAt").GetString()));
    }

    [Fact]
    public async Task Show_Table_ListsFieldsAndSelectors()
    {
        Api.On("GetAgent", (GetAgentRequest r) => Info(r.SpiffeId));

        var result = await RunAsync("agent", "show", Node1);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Node1, Api.Only<GetAgentRequest>("GetAgent").SpiffeId);
        Assert.Equal(
            $"""
            spiffe id:   {Node1}
            attestation: join_token
            serial:      0a1b2c
            expires:     2025-11-22T08:26:40Z
            banned:      no
            selectors:   join_token:tok1
            attested:    2025-11-21T04:40:00Z

            """,
            result.Out);
    }

    [Fact]
    public async Task Show_Json_RoundTripsTheAgent()
    {
        Api.On("GetAgent", (GetAgentRequest r) => Info(r.SpiffeId));

        var result = await RunAsync("agent", "show", Node1, "--output", "json");

        Assert.Equal(Info(Node1), Google.Protobuf.JsonParser.Default.Parse<AgentInfo>(result.Out));
    }

    [Fact]
    public async Task Evict_Id_SendsItAndConfirms()
    {
        Api.On("EvictAgent", (EvictAgentRequest _) => new EvictAgentResponse());

        var result = await RunAsync("agent", "evict", Node1);

        Assert.Equal((0, $"evicted agent {Node1}\n"), (result.ExitCode, result.Out));
        Assert.Equal(Node1, Api.Only<EvictAgentRequest>("EvictAgent").SpiffeId);
    }

    [Fact]
    public async Task Ban_Id_SendsItAndConfirms()
    {
        Api.On("BanAgent", (BanAgentRequest r) => Info(r.SpiffeId, banned: true));

        var result = await RunAsync("agent", "ban", Node1);

        Assert.Equal((0, $"banned agent {Node1}\n"), (result.ExitCode, result.Out));
        Assert.Equal(Node1, Api.Only<BanAgentRequest>("BanAgent").SpiffeId);
    }

    [Fact]
    public async Task Evict_UnknownAgent_ExitsOne()
    {
        Api.Fail("EvictAgent", StatusCode.NotFound, $"agent {Node1} not found");

        var result = await RunAsync("agent", "evict", Node1);

        Assert.Equal((1, $"error: agent {Node1} not found\n"), (result.ExitCode, result.Error));
    }

    [Theory]
    [InlineData("show")]
    [InlineData("evict")]
    [InlineData("ban")]
    public async Task Verb_BadAgentId_ExitsTwoAndSendsNothing(string verb)
    {
        var result = await RunAsync("agent", verb, "node1");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: agent ID \"node1\": ", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }
}
