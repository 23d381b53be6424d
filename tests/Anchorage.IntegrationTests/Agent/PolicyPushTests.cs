using System.Diagnostics;
using Anchorage.Protos.Admin.V1;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// The communication policy reaches agents from the server: with the first sync at start, and
/// pushed (WatchBundles) when an operator applies a new version, well before the next poll.
/// </summary>
public sealed class PolicyPushTests(ITestOutputHelper output)
{
    private static string Policy(string action) => $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-to-api
              action: {{action}}
              from: { spiffeId: "spiffe://acme.corp/web/*" }
              to: { spiffeId: "spiffe://acme.corp/api", port: 8443 }
        """;

    [Fact]
    public async Task ApplyPolicy_AgentWithLongSyncInterval_NewVersionInForceWithinASecond()
    {
        await using var server = await TestServer.StartAsync();
        await server.Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = Policy("allow") });
        var (token, _) = await TestAgent.TokenAsync(server);

        // A poll would take a minute: only the push can explain a quick update.
        await using var agent = await TestAgent.StartAsync(server, token, o => o with { SyncInterval = TimeSpan.FromMinutes(1) });
        var policy = agent.Agent.ServerPolicy;
        Assert.Equal("1", policy.Current.Version);
        Assert.Equal(Anchorage.Policy.PolicyAction.Allow, policy.Current.Rules[0].Action);

        var latencies = new List<TimeSpan>();
        for (var version = 2; version <= 6; version++)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            EventHandler onChange = (_, _) => changed.TrySetResult();
            policy.Changed += onChange;
            var clock = Stopwatch.StartNew();
            var applied = await server.Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = Policy(version % 2 == 0 ? "deny" : "allow") });
            Assert.Equal(version, applied.Policy.Version);
            await Task.WhenAny(changed.Task, Task.Delay(TimeSpan.FromSeconds(20)));
            latencies.Add(clock.Elapsed);
            policy.Changed -= onChange;

            Assert.True(changed.Task.IsCompleted, $"version {version} did not reach the agent within 20 s");
            Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), policy.Current.Version);
        }

        var sorted = latencies.Order().ToArray();
        output.WriteLine(
            $"policy apply -> agent in force: {string.Join(", ", latencies.Select(l => $"{l.TotalMilliseconds:F0} ms"))} " +
            $"(median {sorted[sorted.Length / 2].TotalMilliseconds:F0} ms, max {sorted[^1].TotalMilliseconds:F0} ms)");
        Assert.All(latencies, l => Assert.True(l < TimeSpan.FromSeconds(2), $"push took {l.TotalMilliseconds:F0} ms"));
    }

    [Fact]
    public async Task ApplyPolicy_Unchanged_AgentKeepsVersionWithoutAChange()
    {
        await using var server = await TestServer.StartAsync();
        await server.Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = Policy("allow") });
        var (token, _) = await TestAgent.TokenAsync(server);
        await using var agent = await TestAgent.StartAsync(server, token);
        var policy = agent.Agent.ServerPolicy;
        var changes = 0;
        policy.Changed += (_, _) => Interlocked.Increment(ref changes);
        var before = policy.Current;

        var same = await server.Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = Policy("allow") });
        Assert.False(same.Changed);

        // Several syncs (1 s interval) pass; then a real change is the first and only change seen.
        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        Assert.Same(before, policy.Current);
        Assert.Equal(0, Volatile.Read(ref changes));

        await server.Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = Policy("deny") });
        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        Assert.Equal("2", policy.Current.Version);
        Assert.Equal(1, Volatile.Read(ref changes));
    }
}
