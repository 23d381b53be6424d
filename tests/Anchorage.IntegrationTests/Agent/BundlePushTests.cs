using System.Diagnostics;
using Anchorage.Protos.Admin.V1;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>Bundle changes are pushed from the server to agents (WatchBundles), not only polled.</summary>
public sealed class BundlePushTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AuthorityPrepared_AgentWithLongSyncInterval_SeesNewBundleWithinSeconds()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");

        // A poll would take a minute: only the push can explain a quick update.
        await using var agent = await TestAgent.StartAsync(server, token, o => o with { SyncInterval = TimeSpan.FromMinutes(1) });
        var before = agent.Agent.Cache.State.OwnBundle!.SequenceNumber;
        Assert.Equal(before, (await server.BundleAsync()).SequenceNumber);

        var clock = Stopwatch.StartNew();
        await server.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var expected = (await server.BundleAsync()).SequenceNumber;
        Assert.NotEqual(before, expected);
        while (agent.Agent.Cache.State.OwnBundle!.SequenceNumber != expected && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(50);
        }

        output.WriteLine($"bundle change reached the agent in {clock.ElapsedMilliseconds} ms");
        Assert.Equal(expected, agent.Agent.Cache.State.OwnBundle!.SequenceNumber);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20));
    }
}
