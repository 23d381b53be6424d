using Anchorage.Agent.Cache;
using Anchorage.Agent.Config;
using Anchorage.Agent.Node;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Microsoft.Extensions.Logging.Abstractions;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// The agent's node session, cache and synchronizer wired to a real <see cref="TestServer"/>, without
/// the Workload API host: what the cache serves is read directly.
/// </summary>
internal sealed class NodeParts : IDisposable
{
    private NodeParts(AgentOptions options, NodeSession session, WorkloadCache cache, CacheSynchronizer sync)
    {
        Options = options;
        Session = session;
        Cache = cache;
        Sync = sync;
    }

    public AgentOptions Options { get; }

    public NodeSession Session { get; }

    public WorkloadCache Cache { get; }

    public CacheSynchronizer Sync { get; }

    /// <summary>Options for an agent of <paramref name="server"/> keeping its state in <paramref name="dataDir"/>.</summary>
    public static async Task<AgentOptions> OptionsAsync(TestServer server, string dataDir, string? joinToken)
    {
        var bundleFile = Path.Combine(dataDir, "..", Path.GetFileName(dataDir) + "-bootstrap.json");
        await File.WriteAllTextAsync(bundleFile, (await server.BundleAsync()).ToJson());
        return new AgentOptions
        {
            TrustDomain = TestServer.Td,
            DataDir = dataDir,
            ServerAddress = new HostPort("127.0.0.1", server.Server.Host.AgentApiEndpoint.Port),
            JoinToken = joinToken,
            TrustBundleFile = Path.GetFullPath(bundleFile),
            Listen = new AgentListenOptions { AdminSocket = Path.Combine(dataDir, "admin.sock") },
        };
    }

    public static async Task<NodeParts> StartAsync(AgentOptions options, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var session = new NodeSession(options, new AgentStateStore(options.DataDir, options.TrustDomain), time, NullLogger.Instance);
        var cache = new WorkloadCache(options.TrustDomain, session, time, NullLogger.Instance);
        var sync = new CacheSynchronizer(session, cache, options.SyncInterval, time, NullLogger.Instance);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await session.StartAsync(timeout.Token);
            return new NodeParts(options, session, cache, sync);
        }
        catch
        {
            sync.Dispose();
            cache.Dispose();
            session.Dispose();
            throw;
        }
    }

    /// <summary>A join token from <paramref name="server"/> and the agent ID it yields.</summary>
    public static async Task<(string Token, SpiffeId AgentId)> TokenAsync(TestServer server)
    {
        var token = await server.Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest());
        return (token.Token, SpiffeId.Parse(token.AgentSpiffeId));
    }

    /// <summary>Creates a workload entry under <paramref name="parent"/> with <paramref name="selectors"/> (type:value).</summary>
    public static Task<Common.Entry> EntryAsync(TestServer server, SpiffeId parent, string path, params string[] selectors) =>
        EntryAsync(server, parent, path, selectors, []);

    /// <summary>
    /// Creates a workload entry in <paramref name="parent"/>'s trust domain under <paramref name="parent"/>
    /// with <paramref name="selectors"/> (type:value), federating with <paramref name="federatesWith"/>.
    /// </summary>
    public static async Task<Common.Entry> EntryAsync(
        TestServer server, SpiffeId parent, string path, IEnumerable<string> selectors, IEnumerable<TrustDomain> federatesWith)
    {
        var entry = new Common.Entry { SpiffeId = $"spiffe://{parent.TrustDomain.Name}{path}", ParentId = parent.ToString() };
        entry.FederatesWith.Add(federatesWith.Select(td => td.Name));
        foreach (var selector in selectors)
        {
            var colon = selector.IndexOf(':', StringComparison.Ordinal);
            entry.Selectors.Add(new Common.Selector { Type = selector[..colon], Value = selector[(colon + 1)..] });
        }

        var request = new CreateEntriesRequest();
        request.Entries.Add(entry);
        var result = (await server.Admin.CreateEntriesAsync(request)).Results.Single();
        Assert.True(result.ErrorCode == 0, result.Error);
        return result.Entry;
    }

    public async Task SyncAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Sync.SyncOnceAsync(timeout.Token);
    }

    public void Dispose()
    {
        Sync.Dispose();
        Cache.Dispose();
        Session.Dispose();
    }
}
