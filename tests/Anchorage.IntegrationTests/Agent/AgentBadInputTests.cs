using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Agent.Node;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// Bad input against the running agent (issue 4, item 10): oversized and malformed requests,
/// stream floods, vanishing callers, a corrupt data directory; and no secret ever in its logs.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentBadInputTests
{
    [Fact]
    public async Task FetchJwtSvid_FiveMegabyteAudience_ResourceExhaustedAndNextCallerServed()
    {
        await using var server = await TestServer.StartAsync();
        await using var agent = await StartServedAgentAsync(server);
        var client = agent.Client();

        var request = new JWTSVIDRequest();
        request.Audience.Add(new string('a', 5 * 1024 * 1024));
        var e = await Assert.ThrowsAsync<RpcException>(() => client.FetchJWTSVIDAsync(request, TestAgent.Header).ResponseAsync);

        Assert.Contains(e.StatusCode, new[] { StatusCode.ResourceExhausted, StatusCode.InvalidArgument });
        var ok = await agent.Client().FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, TestAgent.Header);
        Assert.Equal("spiffe://acme.corp/me", Assert.Single(ok.Svids).SpiffeId);
    }

    [Fact]
    public async Task UnixSocket_GarbageBytesAndMalformedHttp2_ConnectionDroppedAndAgentKeepsServing()
    {
        await using var server = await TestServer.StartAsync();
        await using var agent = await StartServedAgentAsync(server);
        var preface = Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        byte[][] inputs =
        [
            // Random bytes ended by an empty line, so an HTTP/1.1 parser has a complete (bogus) request to reject.
            [.. RandomNumberGenerator.GetBytes(4096), .. "\r\n\r\n"u8],
            Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),

            // The HTTP/2 preface, then a frame header claiming a 16 MB DATA frame on stream 0, then junk.
            [.. preface, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, .. RandomNumberGenerator.GetBytes(512)],

            // The preface, then a SETTINGS frame whose length is not a multiple of 6.
            [.. preface, 0x00, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5],
        ];

        foreach (var input in inputs)
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(agent.Socket));
            await socket.SendAsync(input);

            // The agent answers (an error frame or HTTP/1.1 error) and closes; it never hangs on us.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }
        }

        await AssertServedAsync(agent);
    }

    [Fact]
    public async Task FetchX509Svid_MoreStreamsThanMaxPerCaller_ExcessUnavailableOthersKeepWorking()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(
            server, token, o => o with { WorkloadApi = o.WorkloadApi with { MaxStreamsPerCaller = 4 } });
        var client = agent.Client();
        var open = new List<AsyncServerStreamingCall<X509SVIDResponse>>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var call = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
                open.Add(call);
                Assert.True(await call.ResponseStream.MoveNext());
            }

            var excess = new List<RpcException>();
            for (var i = 0; i < 3; i++)
            {
                using var call = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
                excess.Add(await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext()));
            }

            Assert.All(excess, e => Assert.Equal((StatusCode.Unavailable, "too many open streams for this caller"), (e.StatusCode, e.Status.Detail)));

            // Unary calls are not limited, and the open streams are still alive: a change reaches all four.
            var jwt = await client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, TestAgent.Header);
            Assert.Single(jwt.Svids);
            await NodeParts.EntryAsync(server, agentId, "/me-too", $"unix:uid:{TestServer.OwnUid()}");
            await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var call in open)
            {
                Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
                Assert.Equal(2, call.ResponseStream.Current.Svids.Count);
            }

            // One stream closes: its slot is free again.
            open[0].Dispose();
            open.RemoveAt(0);
            await Eventually.TrueAsync(async () =>
            {
                using var call = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
                try
                {
                    return await call.ResponseStream.MoveNext();
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            });
        }
        finally
        {
            open.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task FetchX509Svid_CallersVanishMidStream_LaterCallersServedAndSlotsFreed()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(
            server, token, o => o with { WorkloadApi = o.WorkloadApi with { MaxStreamsPerCaller = 2 } });

        // Independent processes killed (SIGKILL) while their stream is open.
        for (var i = 0; i < 3; i++)
        {
            using var watcher = NodeAgentClient.StartWatch(agent.Socket, count: 100, seconds: 60);
            Assert.Contains("\"event\":\"message\"", await watcher.StandardOutput.ReadLineAsync(), StringComparison.Ordinal);
            watcher.Kill();
            await watcher.WaitForExitAsync();
        }

        // In-process callers that cancel, and channels torn down mid-stream: more than the limit in total.
        for (var i = 0; i < 5; i++)
        {
            using var cancel = new CancellationTokenSource();
            var client = agent.Client();
            using var call = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header, cancellationToken: cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext());
            await cancel.CancelAsync();
        }

        for (var i = 0; i < 3; i++)
        {
            using var channel = TestServer.AdminChannel(agent.Socket);
            using var call = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel).FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
            Assert.True(await call.ResponseStream.MoveNext());
        }

        // Every slot came back: two streams at once (the limit) are served, by this process and by node.
        await Eventually.TrueAsync(async () =>
        {
            var client = agent.Client();
            using var a = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
            using var b = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
            try
            {
                return await a.ResponseStream.MoveNext() && await b.ResponseStream.MoveNext();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
                return false;
            }
        });
        var node = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509");
        Assert.True(node.GetProperty("ok").GetBoolean(), node.ToString());
    }

    [Fact]
    public async Task Start_GarbageAgentSvidInDataDir_ReattestsWithNewTokenAndKeepsCorruptFileAside()
    {
        await using var server = await TestServer.StartAsync();
        using var state = new TempDir();
        var dataDir = Path.Combine(state.Path, "agent");
        var (token1, agent1) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agent1, "/first", $"unix:uid:{TestServer.OwnUid()}");
        await using (var first = await TestAgent.StartAsync(server, token1, o => o with { DataDir = dataDir }))
        {
            Assert.Equal(agent1, first.Agent.Session.AgentId);
        }

        var garbage = RandomNumberGenerator.GetBytes(700);
        await File.WriteAllBytesAsync(Path.Combine(dataDir, AgentStateStore.SvidFileName), garbage);
        var (token2, agent2) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agent2, "/second", $"unix:uid:{TestServer.OwnUid()}");

        await using var second = await TestAgent.StartAsync(server, token2, o => o with { DataDir = dataDir });

        Assert.Equal(agent2, second.Agent.Session.AgentId);
        var aside = Assert.Single(Directory.GetFiles(dataDir, AgentStateStore.SvidFileName + ".corrupt-*"));
        Assert.Equal(garbage, await File.ReadAllBytesAsync(aside));
        Assert.True(File.Exists(Path.Combine(dataDir, AgentStateStore.SvidFileName)));
        using var call = second.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("spiffe://acme.corp/second", Assert.Single(call.ResponseStream.Current.Svids).SpiffeId);
    }

    [Fact]
    public async Task Logs_AttestationSyncJwtTaintAndBadInput_NoSecretInAnyLine()
    {
        using var capture = new LogCapture(LogLevel.Trace);
        var loggers = capture.Factory;
        await using var server = await TestServer.StartAsync(null, loggers);
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token, loggers: loggers);
        var client = agent.Client();
        var secrets = new List<string> { token.Split('.')[1] };

        async Task CollectX509Async()
        {
            using var call = client.FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
            Assert.True(await call.ResponseStream.MoveNext());
            foreach (var svid in call.ResponseStream.Current.Svids)
            {
                secrets.Add(Convert.ToBase64String(svid.X509SvidKey.ToByteArray()));
            }
        }

        async Task CollectJwtAsync(string audience)
        {
            var jwt = await client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { audience } }, TestAgent.Header);
            foreach (var svid in jwt.Svids)
            {
                secrets.Add(svid.Svid);
                secrets.Add(svid.Svid[(svid.Svid.LastIndexOf('.') + 1)..]);
            }
        }

        await CollectX509Async();
        await CollectJwtAsync("payments");
        var validated = await client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "payments", Svid = secrets[^2] }, TestAgent.Header);
        Assert.Equal("spiffe://acme.corp/me", validated.SpiffeId);

        // Taint both authorities: everything is re-issued and handed out again.
        foreach (var kind in new[] { "x509", "jwt" })
        {
            await server.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = kind });
            await server.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = kind });
            await server.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = kind });
        }

        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        await CollectX509Async();
        await CollectJwtAsync("payments");
        await CollectJwtAsync("orders");

        // Bad input: tampered token, no header, garbage bytes, a spent join token.
        var tampered = secrets[^2][..^4] + (secrets[^2].EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA");
        await Assert.ThrowsAsync<RpcException>(() => client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "orders", Svid = tampered }, TestAgent.Header).ResponseAsync);
        await Assert.ThrowsAsync<RpcException>(() => client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "x" } }).ResponseAsync);
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(agent.Socket));
            await socket.SendAsync((byte[])[.. RandomNumberGenerator.GetBytes(256), .. "\r\n\r\n"u8]);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await socket.ReceiveAsync(new byte[1024], SocketFlags.None, timeout.Token) > 0)
            {
            }
        }

        await Assert.ThrowsAnyAsync<Exception>(() => TestAgent.StartAsync(server, token, o => o with { DataDir = o.DataDir + "-spent" }));
        var lines = capture.Lines;

        Assert.True(secrets.Count >= 6, $"only {secrets.Count} secrets collected");
        Assert.Contains(lines, l => l.Contains(Anchorage.Agent.AgentApp.NodeLoggerCategory, StringComparison.Ordinal));
        Assert.True(lines.Count > 20, $"only {lines.Count} log lines captured");
        Assert.Empty(Leaks(lines, secrets));

        // Positive control: a secret planted through the same logger factory is found by the same scan.
        var planted = secrets[1];
        var test = loggers.CreateLogger("Anchorage.Test");
        test.Log(LogLevel.Information, default, planted, null, static (key, _) => "oops " + key);
        test.Log(LogLevel.Debug, default, "-----BEGIN PRIVATE KEY-----", null, static (pem, _) => pem);
        Assert.Equal(2, Leaks(capture.Lines, secrets).Count);
    }

    private static List<string> Leaks(IReadOnlyList<string> lines, IReadOnlyList<string> secrets) =>
        [.. lines.Where(l => l.Contains("PRIVATE KEY", StringComparison.Ordinal) || secrets.Any(s => l.Contains(s, StringComparison.Ordinal)))];

    private static async Task<TestAgent> StartServedAgentAsync(TestServer server)
    {
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/me", $"unix:uid:{TestServer.OwnUid()}");
        return await TestAgent.StartAsync(server, token);
    }

    private static async Task AssertServedAsync(TestAgent agent)
    {
        using var call = agent.Client().FetchX509SVID(new X509SVIDRequest(), TestAgent.Header);
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Equal("spiffe://acme.corp/me", Assert.Single(call.ResponseStream.Current.Svids).SpiffeId);
    }
}
