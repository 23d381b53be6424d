using System.Collections.Concurrent;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Agent.Attestation;
using Anchorage.Agent.Config;
using Anchorage.Agent.Hosting;
using Anchorage.Foundation.Config;
using Anchorage.Foundation.Selectors;
using Anchorage.Hosting.Health;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Anchorage.Testing.Sockets;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Tests.Hosting;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AgentHostTests : IDisposable
{
    private static readonly uint OwnUid = ReadOwnUid();
    private static readonly Metadata Header = new() { { "workload.spiffe.io", "true" } };

    private readonly TempDir _dir = new();
    private readonly LogCapture _log = new();
    private readonly TestWorkloadCache _cache = new(OwnUid);

    public void Dispose()
    {
        _log.Dispose();
        _dir.Dispose();
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_UnixSocketCurrentUser_ReturnsTheSvidAndKeysTheCallerByUid()
    {
        await using var agent = await StartAsync();
        using var channel = UnixChannel(agent.WorkloadSocketPath);

        var response = await FirstX509Async(channel);

        var svid = Assert.Single(response.Svids);
        Assert.Equal("spiffe://example.org/workload", svid.SpiffeId);
        Assert.Equal("internal", svid.Hint);
        var (caller, selectors) = Assert.Single(_cache.Lookups);
        Assert.Equal($"uid:{OwnUid}", caller);
        Assert.Contains(new Selector("unix", $"uid:{OwnUid}"), selectors);
    }

    [Fact]
    [Trait("Spec", "Workload Endpoint 6")]
    public async Task FetchX509Svid_CacheReturnsNull_PermissionDenied()
    {
        await using var agent = await StartAsync();
        using var channel = UnixChannel(agent.WorkloadSocketPath);

        // Positive control on the same host: served until the cache withdraws the identity.
        Assert.Single((await FirstX509Async(channel)).Svids);
        _cache.Deny();
        var e = await Assert.ThrowsAsync<RpcException>(() => FirstX509Async(channel));

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal("caller has no workload identity", e.Status.Detail);
    }

    [Fact]
    public async Task FetchX509Svid_AttestationFails_PermissionDeniedAndDebugLogWithPid()
    {
        var attestor = new FailingAttestor(new UnixWorkloadAttestor());
        await using var agent = await StartAsync(setup: Setup(attestor: attestor));
        using var channel = UnixChannel(agent.WorkloadSocketPath);

        Assert.Single((await FirstX509Async(channel)).Svids);
        attestor.Fail = true;
        var e = await Assert.ThrowsAsync<RpcException>(() => FirstX509Async(channel));

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Contains(
            (5511, LogLevel.Debug, $"attestation of process {Environment.ProcessId} failed: process {Environment.ProcessId} exited during attestation"),
            _log.Events);
        Assert.Single(_cache.Lookups);
    }

    [Fact]
    public async Task WorkloadSocket_AfterStart_IsMode0777InA0755DirectoryItCreated()
    {
        var options = Options() with { WorkloadApi = new WorkloadApiListenOptions { Socket = Path.Join(_dir.Path, "run", "agent", "api.sock") } };
        await using var agent = await StartAsync(options);

        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(agent.WorkloadSocketPath));
        Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(Path.Join(_dir.Path, "run", "agent")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(agent.AdminSocketPath));
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_LoopbackTcp_AttestsTheCallingProcessThroughTheKernelsTcpTable()
    {
        var options = Options() with
        {
            WorkloadApi = new WorkloadApiListenOptions { Socket = Path.Join(_dir.Path, "api.sock"), Tcp = new HostPort("127.0.0.1", 0) },
        };
        await using var agent = await StartAsync(options);
        Assert.NotNull(agent.TcpEndPoint);
        Assert.NotEqual(0, agent.TcpEndPoint.Port);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{agent.TcpEndPoint.Port}");

        var response = await FirstX509Async(channel);

        Assert.Equal("spiffe://example.org/workload", Assert.Single(response.Svids).SpiffeId);
        var (caller, selectors) = Assert.Single(_cache.Lookups);
        Assert.Equal($"uid:{OwnUid}", caller);
        Assert.Contains(new Selector("unix", $"uid:{OwnUid}"), selectors);
        Assert.Contains(new Selector("unix", "path:" + Environment.ProcessPath), selectors);
    }

    [Fact]
    public async Task AdminSocket_NonAdminUid_PermissionDeniedAndAdminUidServing()
    {
        await using (var refused = await StartAsync(Options() with { AdminUids = [OwnUid + 1] }))
        {
            using var channel = UnixChannel(refused.AdminSocketPath);
            var e = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync);

            Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
            Assert.Equal($"caller uid {OwnUid} is not an admin", e.Status.Detail);
            Assert.Contains((5502, LogLevel.Warning, $"admin request refused: caller uid {OwnUid} (pid {Environment.ProcessId}) is not an admin"), _log.Events);
        }

        // Positive control: the same call from an admin uid.
        await using var allowed = await StartAsync(Options() with { AdminUids = [OwnUid] });
        using var adminChannel = UnixChannel(allowed.AdminSocketPath);
        var reply = await new Health.HealthClient(adminChannel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task AdminSocket_CurlFromANonAdminUid_Forbidden()
    {
        await using var agent = await StartAsync(Options() with { AdminUids = [OwnUid + 1] }, Setup(mapAdmin: e => e.MapGet("/ping", () => "pong\n")));

        var refused = await CurlAsync(agent.AdminSocketPath, "http://localhost/ping");

        Assert.Equal($"403 caller uid {OwnUid} is not an admin\n", refused);

        // Positive control: an admin reaches the hook's endpoint through the same client.
        await agent.DisposeAsync();
        await using var admin = await StartAsync(Options() with { AdminUids = [OwnUid] }, Setup(mapAdmin: e => e.MapGet("/ping", () => "pong\n")));
        Assert.Equal("200 pong\n", await CurlAsync(admin.AdminSocketPath, "http://localhost/ping"));
    }

    [Fact]
    public async Task Live_Get_Returns200OverHttp11()
    {
        await using var agent = await StartAsync();
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(agent, "/live"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("live\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(new Version(1, 1), response.Version);
    }

    [Fact]
    public async Task Ready_CallbackNotReadyThenReady_Returns503WithReasonThen200()
    {
        var ready = false;
        await using var agent = await StartAsync(setup: Setup(readiness: () => ready ? ReadinessStatus.Ready : ReadinessStatus.NotReady("no agent svid yet")));
        using var http = new HttpClient();

        var before = await http.GetAsync(HealthUri(agent, "/ready"));
        ready = true;
        var after = await http.GetAsync(HealthUri(agent, "/ready"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Equal("no agent svid yet\n", await before.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("ready\n", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_CallbackThrows_Returns503WithoutTheExceptionText()
    {
        await using var agent = await StartAsync(setup: Setup(readiness: () => throw new InvalidOperationException("secret detail")));
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(agent, "/ready"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("readiness check failed\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_AfterStartAndACall_ContainsAgentCounters()
    {
        await using var agent = await StartAsync();
        using var channel = UnixChannel(agent.WorkloadSocketPath);
        var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);

        // Unary and without the security header: counted as soon as the handler returns.
        var e = await Assert.ThrowsAsync<RpcException>(() => client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "a", Svid = "x" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        using var http = new HttpClient();
        const string Call = @"(?m)^anchorage_agent_workload_api_calls_total\{[^}]*method=""ValidateJWTSVID""[^}]*outcome=""InvalidArgument""[^}]*\} 1( \d+)?$";

        // The interceptor counts once the call has ended on the server, which can be just after
        // the client has its answer: the scrape is repeated until the call is in it.
        var body = string.Empty;
        await Eventually.TrueAsync(
            async () => System.Text.RegularExpressions.Regex.IsMatch(
                body = await (await http.GetAsync(HealthUri(agent, "/metrics"))).Content.ReadAsStringAsync(), Call),
            () => "the call counted on /metrics: " + body);

        // The meter is named per process, not per host: an agent another test class starts in this
        // test process at the same time is counted too, so the count is at least one, not exactly one.
        Assert.Contains("# TYPE anchorage_agent_starts_total counter", body, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^anchorage_agent_starts_total(\{[^}]*\})? [1-9]\d*( \d+)?$", body);
        Assert.Matches(Call, body);
    }

    [Fact]
    public async Task Reflection_ListServices_IncludesSpiffeWorkloadApi()
    {
        await using var agent = await StartAsync();
        using var channel = UnixChannel(agent.WorkloadSocketPath);
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();

        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("SpiffeWorkloadAPI", names);
        Assert.Contains("grpc.health.v1.Health", names);
    }

    [Fact]
    public async Task GrpcHealth_WorkloadSocket_ServingWhenReadyNotServingOtherwise()
    {
        var ready = true;
        await using var agent = await StartAsync(setup: Setup(readiness: () => ready ? ReadinessStatus.Ready : ReadinessStatus.NotReady("syncing")));
        using var channel = UnixChannel(agent.WorkloadSocketPath);
        var health = new Health.HealthClient(channel);

        var serving = await health.CheckAsync(new HealthCheckRequest());
        ready = false;
        var notServing = await health.CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, notServing.Status);
    }

    [Fact]
    public async Task Endpoints_OnlyOnTheirListeners()
    {
        await using var agent = await StartAsync(Options() with { AdminUids = [OwnUid] });
        using var workload = new HttpClient(UnixHandler(agent.WorkloadSocketPath));
        using var admin = UnixChannel(agent.AdminSocketPath);

        var live = await workload.SendAsync(Http2Get("http://localhost/live"));
        var x509 = await Assert.ThrowsAsync<RpcException>(() => FirstX509Async(admin));

        Assert.Equal(HttpStatusCode.NotFound, live.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, x509.StatusCode);
    }

    [Fact]
    public async Task StartAsync_StaleWorkloadSocket_RemovesItAndServes()
    {
        var path = Options().WorkloadApi.Socket;
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // .NET unlinks the name it bound on dispose; renamed, the socket outlives its owner as a crashed agent's would.
            stale.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
            stale.Listen();
            File.Move(path + ".tmp", path);
        }

        Assert.True(File.Exists(path));
        await using var agent = await StartAsync();
        using var channel = UnixChannel(agent.WorkloadSocketPath);

        Assert.Single((await FirstX509Async(channel)).Svids);
        Assert.Contains((5501, LogLevel.Warning, $"removed a stale socket at {path}"), _log.Events);
    }

    [Fact]
    public async Task StartAsync_LiveAgentOnTheWorkloadSocket_ThrowsAndLeavesItServing()
    {
        await using var first = await StartAsync();

        var e = await Assert.ThrowsAsync<IOException>(() => StartAsync(Options() with { Listen = new AgentListenOptions { AdminSocket = Path.Join(_dir.Path, "admin2.sock"), Health = new HostPort("127.0.0.1", 0) } }));

        Assert.Equal($"another agent is serving {first.WorkloadSocketPath}", e.Message);
        using var channel = UnixChannel(first.WorkloadSocketPath);
        Assert.Single((await FirstX509Async(channel)).Svids);
    }

    [Fact]
    public async Task DisposeAsync_Agent_RemovesBothSocketFiles()
    {
        var agent = await StartAsync();

        await agent.DisposeAsync();

        Assert.False(File.Exists(agent.WorkloadSocketPath));
        Assert.False(File.Exists(agent.AdminSocketPath));
    }

    private AgentOptions Options() => new()
    {
        TrustDomain = TrustDomain.Parse("example.org"),
        DataDir = Path.Join(_dir.Path, "data"),
        ServerAddress = new HostPort("127.0.0.1", 1),
        WorkloadApi = new WorkloadApiListenOptions { Socket = Path.Join(_dir.Path, "api.sock") },
        Listen = new AgentListenOptions { AdminSocket = Path.Join(_dir.Path, "admin.sock"), Health = new HostPort("127.0.0.1", 0) },
        AdminUids = [OwnUid],
    };

    private AgentHostSetup Setup(
        Func<ReadinessStatus>? readiness = null,
        IWorkloadAttestor? attestor = null,
        Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? mapAdmin = null) => new()
    {
        Cache = _cache,
        Attestor = attestor ?? new UnixWorkloadAttestor(),
        Readiness = readiness is null ? _ => ValueTask.FromResult(ReadinessStatus.Ready) : _ => ValueTask.FromResult(readiness()),
        MapAdminApi = mapAdmin,
    };

    private Task<AgentHostHandle> StartAsync(AgentOptions? options = null, AgentHostSetup? setup = null) =>
        AgentHost.StartAsync(options ?? Options(), setup ?? Setup(), _log.Factory);

    private static async Task<X509SVIDResponse> FirstX509Async(GrpcChannel channel)
    {
        using var call = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel).FetchX509SVID(new X509SVIDRequest(), Header);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        return call.ResponseStream.Current;
    }

    private static Task<string> CurlAsync(string socket, string url) =>
        Task.Run(() => Processes.Run("curl", "-sS", "--http2-prior-knowledge", "--unix-socket", socket, "-w", "%{http_code} ", "-o", "/dev/stdout", url))
            .ContinueWith(t => ReorderCurl(t.Result), TaskScheduler.Default);

    // curl writes the body, then the -w text: "body403 " -> "403 body".
    private static string ReorderCurl(string output)
    {
        var trimmed = output.TrimEnd(' ');
        var code = trimmed[^3..];
        return code + " " + trimmed[..^3];
    }

    private static Uri HealthUri(AgentHostHandle agent, string path) => new($"http://127.0.0.1:{agent.HealthEndPoint.Port}{path}");

    private static HttpRequestMessage Http2Get(string uri) => new(HttpMethod.Get, uri)
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static SocketsHttpHandler UnixHandler(string path) => TempSocket.HttpHandler(path);

    private static GrpcChannel UnixChannel(string path) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = UnixHandler(path) });

    // The effective uid, as SO_PEERCRED reports it: the second field of /proc/self/status "Uid:".
    private static uint ReadOwnUid() =>
        uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);

    // Attests through the real attestor until told to fail as if the process had exited.
    private sealed class FailingAttestor(IWorkloadAttestor inner) : IWorkloadAttestor
    {
        public volatile bool Fail;

        public ValueTask<WorkloadAttestation> AttestAsync(PeerProcess peer, CancellationToken cancellationToken) =>
            Fail ? throw new WorkloadAttestationException($"process {peer.ProcessId} exited during attestation") : inner.AttestAsync(peer, cancellationToken);
    }
}
