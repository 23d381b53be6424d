using System.Diagnostics;
using System.Text.Json;
using Anchorage.Agent.Attestation;
using Anchorage.Foundation.Selectors;
using Anchorage.Protos.Workload;
using Anchorage.Server.Config;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// X.509-SVID rotation through the running agent: a watching client receives the renewed SVID
/// on its open stream before the old one expires, and the cache serves an SVID until (not after)
/// it expires, also while the server is down.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SvidRotationTests
{
    private static readonly Selector[] Uid1000 = [new("unix", "uid:1000")];

    [Fact]
    [Trait("Category", "Slow")]
    public async Task FetchX509Svid_WatchingGrpcJsClient_GetsRenewedSvidBeforeExpiry_ThenCacheServesWhileServerDown()
    {
        using var serverDir = new TempDir();
        var options = TestServer.Options(serverDir.Path) with
        {
            Ca = new CaOptions { CaTtl = TimeSpan.FromMinutes(15), X509SvidTtl = TimeSpan.FromMinutes(2) },
        };
        TestServer? server = await TestServer.StartAsync(options);
        TestAgent? agent = null;
        try
        {
            var (token, agentId) = await TestAgent.TokenAsync(server);
            await NodeParts.EntryAsync(server, agentId, "/rotating", $"unix:uid:{TestServer.OwnUid()}");
            agent = await TestAgent.StartAsync(server, token);

            var clock = Stopwatch.StartNew();
            using var watcher = NodeAgentClient.StartWatch(agent.Socket, count: 2, seconds: 150);
            var events = new List<(JsonElement Json, DateTimeOffset Arrival)>();
            while (await watcher.StandardOutput.ReadLineAsync() is { } line)
            {
                using var doc = JsonDocument.Parse(line);
                events.Add((doc.RootElement.Clone(), DateTimeOffset.UtcNow));
            }

            await watcher.WaitForExitAsync();
            var elapsed = clock.Elapsed;

            // Two messages, then the client stopped on its own: the stream never errored or ended.
            Assert.True(events.Count == 3, string.Join('\n', events.Select(e => e.Json.ToString())) + await watcher.StandardError.ReadToEndAsync());
            Assert.Equal("done", events[2].Json.GetProperty("event").GetString());
            var (first, firstBundle) = Svid(events[0].Json);
            var (second, secondBundle) = Svid(events[1].Json);
            var arrival = DateTimeOffset.FromUnixTimeMilliseconds(events[1].Json.GetProperty("at").GetInt64());

            Assert.True(arrival < first.Leaf.NotAfter, $"renewed at {arrival:O}, old expired {first.Leaf.NotAfter:O}");
            Assert.True(second.Leaf.NotBefore <= arrival, $"renewed SVID valid from {second.Leaf.NotBefore:O}, arrived {arrival:O}");
            Assert.NotEqual(first.Leaf.SerialNumber, second.Leaf.SerialNumber);
            Assert.Equal(first.Id, second.Id);
            Assert.Equal(first.Id, new X509SvidVerifier().Verify(first.Certificates, firstBundle).Id);
            Assert.Equal(second.Id, new X509SvidVerifier().Verify(second.Certificates, secondBundle).Id);
            Assert.Equal(second.Id, new X509SvidVerifier().Verify(first.Certificates, secondBundle).Id);
            var firstLifetime = first.Leaf.NotAfter - first.Leaf.NotBefore;
            Assert.InRange(firstLifetime, TimeSpan.FromSeconds(100), TimeSpan.FromSeconds(130));
            Console.WriteLine(
                $"rotation: first SVID {first.Leaf.NotBefore:O}..{first.Leaf.NotAfter:O}; second arrived {arrival:O} " +
                $"({(arrival - first.Leaf.NotBefore).TotalSeconds:F1} s after the first's NotBefore, " +
                $"{(first.Leaf.NotAfter - arrival).TotalSeconds:F1} s before its NotAfter); watch ran {elapsed.TotalSeconds:F1} s");

            // The server goes away: a NEW call still gets the current, unexpired SVID from the cache.
            await server.DisposeAsync();
            server = null;
            using var call = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
            Assert.True(await call.ResponseStream.MoveNext());
            var cached = X509Svid.FromDer(Assert.Single(call.ResponseStream.Current.Svids).X509Svid.Span, Assert.Single(call.ResponseStream.Current.Svids).X509SvidKey.Span);
            Assert.Equal(second.Leaf.SerialNumber, cached.Leaf.SerialNumber);
            Assert.True(cached.Leaf.NotAfter > DateTimeOffset.UtcNow);

            // And the independent client too.
            var node = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509");
            Assert.True(node.GetProperty("ok").GetBoolean(), node.ToString());
        }
        finally
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Resolve_FakeClockJustBeforeNotAfter_Served_AtNotAfter_NotServed()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDir();
        var (token, agentId) = await NodeParts.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/web", "unix:uid:1000");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var node = await NodeParts.StartAsync(await NodeParts.OptionsAsync(server, Path.Combine(dir.Path, "agent"), token), time);
        await node.SyncAsync();
        var svid = Assert.Single(node.Cache.Resolve("pid:1", Uid1000)!.X509Svids);
        var notAfter = new DateTimeOffset(svid.Leaf.NotAfter.ToUniversalTime());

        time.SetUtcNow(notAfter - TimeSpan.FromSeconds(1));
        var before = node.Cache.Resolve("pid:1", Uid1000);
        time.SetUtcNow(notAfter);
        var atExpiry = node.Cache.Resolve("pid:1", Uid1000);
        time.Advance(TimeSpan.FromHours(1));
        var after = node.Cache.Resolve("pid:1", Uid1000);

        Assert.Same(svid, Assert.Single(before!.X509Svids));
        Assert.Null(atExpiry);
        Assert.Null(after);
    }

    private static (X509Svid Svid, X509Bundle Bundle) Svid(JsonElement message)
    {
        Assert.Equal("message", message.GetProperty("event").GetString());
        var wire = Assert.Single(message.GetProperty("svids").EnumerateArray().ToList());
        var svid = X509Svid.FromDer(Convert.FromBase64String(wire.GetProperty("chain").GetString()!), Convert.FromBase64String(wire.GetProperty("key").GetString()!));
        var bundle = X509Bundle.FromDer(TestServer.Td, Convert.FromBase64String(wire.GetProperty("bundle").GetString()!));
        return (svid, bundle);
    }
}
