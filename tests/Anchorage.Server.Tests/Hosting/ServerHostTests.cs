using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Anchorage.Foundation.Config;
using Anchorage.Hosting.Health;
using Anchorage.Server.Config;
using Anchorage.Server.Hosting;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Anchorage.Testing.Sockets;
using Anchorage.Testing.X509;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Tests.Hosting;

[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class ServerHostTests : IDisposable
{
    private static readonly TrustDomain AcmeCorp = TrustDomain.Parse("acme.corp");
    private static readonly TestCa Root = TestCa.CreateRoot("acme.corp");
    private static readonly X509Svid ServerSvid = Svid(Root.IssueLeaf(new TestLeafOptions { Path = "/anchorage/server" }));
    private static readonly X509Svid AgentSvid = Svid(Root.IssueLeaf(new TestLeafOptions { Path = "/agent/node-1" }));
    private static readonly X509Svid ForeignSvid = Svid(TestCa.CreateRoot("other.corp").IssueLeaf(new TestLeafOptions { Path = "/agent/node-1" }));
    private static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://acme.corp/anchorage/server");

    private readonly TempDir _dir = new();
    private readonly LogCapture _log = new();

    public void Dispose()
    {
        _log.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task StartAsync_PortZero_ReportsBoundEndpointsAndStoresServerId()
    {
        await using var server = await StartAsync();

        Assert.NotEqual(0, server.AgentApiEndpoint.Port);
        Assert.NotEqual(0, server.HealthEndpoint.Port);
        Assert.NotEqual(server.AgentApiEndpoint.Port, server.HealthEndpoint.Port);
        Assert.Equal(IPAddress.Loopback, server.AgentApiEndpoint.Address);
        Assert.Equal(Path.Join(_dir.Path, "admin.sock"), server.AdminSocketPath);
        Assert.Equal(server.ServerId + "\n", File.ReadAllText(Path.Join(_dir.Path, "data", "server-id")));
    }

    [Fact]
    public async Task StartAsync_ServerIdConfigured_UsesItAndStoresNothing()
    {
        await using var server = await StartAsync(Options() with { ServerId = "server-a" });

        Assert.Equal("server-a", server.ServerId);
        Assert.False(File.Exists(Path.Join(_dir.Path, "data", "server-id")));
    }

    [Fact]
    public async Task Live_Get_Returns200()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(server, "/live"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("live\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(new Version(1, 1), response.Version);
    }

    [Fact]
    public async Task Ready_CallbackNotReadyThenReady_Returns503ThenOk()
    {
        var ready = false;
        await using var server = await StartAsync(setup: Setup(readiness: () => ready ? ReadinessStatus.Ready : ReadinessStatus.NotReady("datastore is not open")));
        using var http = new HttpClient();

        var before = await http.GetAsync(HealthUri(server, "/ready"));
        ready = true;
        var after = await http.GetAsync(HealthUri(server, "/ready"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Equal("datastore is not open\n", await before.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("ready\n", await after.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_CallbackThrows_Returns503WithoutTheExceptionText()
    {
        await using var server = await StartAsync(setup: Setup(readiness: () => throw new InvalidOperationException("secret detail")));
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(server, "/ready"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("readiness check failed\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_Get_ContainsTheStartsCounter()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(server, "/metrics"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("# TYPE anchorage_server_starts_total counter", body, StringComparison.Ordinal);
        // At least this start: OpenTelemetry listens to meters by name, so in this test process
        // the exporter also counts the starts of servers other tests run in parallel (one server
        // per process in production).
        Assert.Matches(@"(?m)^anchorage_server_starts_total(\{[^}]*\})? [1-9]\d*( \d+)?$", body);
    }

    [Fact]
    public async Task HealthListener_UnknownPath_NotFound()
    {
        await using var server = await StartAsync();
        using var http = new HttpClient();

        var response = await http.GetAsync(HealthUri(server, "/nothing"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task AdminSocket_AfterStart_IsMode0600()
    {
        await using var server = await StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.AdminSocketPath));
    }

    [Fact]
    public async Task AdminSocket_GrpcHealthFromAnAdminUid_Serving()
    {
        await using var server = await StartAsync(Options(adminUids: [OwnUid()]));
        using var channel = AdminChannel(server);

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task AdminSocket_GrpcHealthWhenNotReady_NotServing()
    {
        await using var server = await StartAsync(Options(adminUids: [OwnUid()]), Setup(readiness: () => ReadinessStatus.NotReady("ca has no active authority")));
        using var channel = AdminChannel(server);

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, reply.Status);
    }

    [Fact]
    public async Task AdminSocket_GrpcHealthFromAnotherUid_PermissionDenied()
    {
        var uid = OwnUid();
        await using var server = await StartAsync(Options(adminUids: [uid + 1]));
        using var channel = AdminChannel(server);

        var e = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal($"caller uid {uid} is not an admin", e.Status.Detail);
        Assert.Contains((1002, LogLevel.Warning, $"admin request refused: caller uid {uid} (pid {Environment.ProcessId}) is not an admin"), _log.Events);
    }

    [Fact]
    public async Task AdminSocket_HttpFromAnotherUid_Forbidden()
    {
        var uid = OwnUid();
        await using var server = await StartAsync(Options(adminUids: [uid + 1]), Setup(mapAdmin: MapWhoAmI));
        using var http = AdminHttpClient(server);

        var response = await http.SendAsync(Http2Get("/whoami"));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal($"caller uid {uid} is not an admin\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AdminSocket_Handler_SeesThePeerUidAndPid()
    {
        var uid = OwnUid();
        await using var server = await StartAsync(Options(adminUids: [uid]), Setup(mapAdmin: MapWhoAmI));
        using var http = AdminHttpClient(server);

        var response = await http.SendAsync(Http2Get("/whoami"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal($"uid={uid} pid={Environment.ProcessId}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AdminSocket_AgentAndHealthEndpoints_NotReachable()
    {
        await using var server = await StartAsync(Options(adminUids: [OwnUid()]), Setup(mapAgent: MapWhoAmI));
        using var http = AdminHttpClient(server);

        var agentOnly = await http.SendAsync(Http2Get("/whoami"));
        var healthOnly = await http.SendAsync(Http2Get("/live"));

        Assert.Equal(HttpStatusCode.NotFound, agentOnly.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, healthOnly.StatusCode);
    }

    [Fact]
    public async Task StartAsync_StaleSocketFile_RemovesItAndStarts()
    {
        var path = Path.Join(_dir.Path, "admin.sock");
        using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // .NET unlinks the name it bound on dispose; renamed, the socket outlives its owner as a crashed server's would.
            stale.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
            stale.Listen();
            File.Move(path + ".tmp", path);
        }

        Assert.True(File.Exists(path));
        await using var server = await StartAsync(Options(adminUids: [OwnUid()]));
        using var channel = AdminChannel(server);

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        Assert.Contains((1001, LogLevel.Warning, $"removed a stale admin socket at {path}"), _log.Events);
    }

    [Fact]
    public async Task StartAsync_NoStaleSocket_LogsStartOnly()
    {
        await using var server = await StartAsync();

        var started = Assert.Single(_log.Events);
        Assert.Equal(1000, started.EventId);
        Assert.Equal(
            $"server {server.ServerId} for trust domain acme.corp started: agent API on {server.AgentApiEndpoint}, health on {server.HealthEndpoint}, admin socket {server.AdminSocketPath}",
            started.Message);
    }

    [Fact]
    public async Task StartAsync_AnotherServerOnTheSocket_Throws()
    {
        await using var first = await StartAsync();

        var e = await Assert.ThrowsAsync<IOException>(() => StartAsync());

        Assert.Equal($"admin socket {first.AdminSocketPath} is in use by another process", e.Message);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.AdminSocketPath));
    }

    [Fact]
    public async Task StartAsync_RegularFileAtTheSocketPath_ThrowsAndKeepsTheFile()
    {
        var path = Path.Join(_dir.Path, "admin.sock");
        File.WriteAllText(path, "not a socket");

        var e = await Assert.ThrowsAsync<IOException>(() => StartAsync());

        Assert.Equal($"admin socket path {path} exists and is not a socket", e.Message);
        Assert.Equal("not a socket", File.ReadAllText(path));
    }

    [Fact]
    public async Task DisposeAsync_Server_RemovesTheSocketFile()
    {
        var server = await StartAsync();
        var path = server.AdminSocketPath;

        await server.DisposeAsync();

        Assert.False(File.Exists(path));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task AgentApi_ClientWithAnSvid_GrpcHealthServing()
    {
        var tls = new RecordingTlsProvider(Setup().AgentTls);
        await using var server = await StartAsync(setup: Setup(tls: tls));
        using var channel = AgentChannel(server, SpiffeTls.MtlsClient(AgentSvid, Root.Bundle(), Authorizer.Exact(ServerId), TestClock.Create()));

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
        Assert.Equal([("spiffe://acme.corp/agent/node-1", true)], tls.Decisions);
    }

    [Fact]
    public async Task AgentApi_ClientWithoutACertificate_Refused()
    {
        var tls = new RecordingTlsProvider(Setup().AgentTls);
        await using var server = await StartAsync(setup: Setup(tls: tls));
        using var channel = AgentChannel(server, SpiffeTls.TlsClient(Root.Bundle(), Authorizer.Exact(ServerId), TestClock.Create()));

        var e = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync);

        // TLS 1.3: the client learns of the refusal after its side of the handshake, so the call
        // fails either while starting (Unavailable) or while reading (Internal).
        Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, e.ToString());
        // One refusal per connection attempt (the HTTP stack may retry a connection it lost early).
        Assert.NotEmpty(tls.Decisions);
        Assert.All(tls.Decisions, d => Assert.Equal(((string?)null, false), d));
    }

    [Fact]
    [Trait("Spec", "X509-SVID 5.1")]
    public async Task AgentApi_ClientFromAnotherTrustDomain_Refused()
    {
        var tls = new RecordingTlsProvider(Setup().AgentTls);
        await using var server = await StartAsync(setup: Setup(tls: tls));
        using var channel = AgentChannel(server, SpiffeTls.MtlsClient(ForeignSvid, Root.Bundle(), Authorizer.Exact(ServerId), TestClock.Create()));

        var e = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest()).ResponseAsync);

        Assert.True(e.StatusCode is StatusCode.Unavailable or StatusCode.Internal, e.ToString());
        Assert.NotEmpty(tls.Decisions);
        Assert.All(tls.Decisions, d => Assert.Equal(("spiffe://other.corp/agent/node-1", false), d));
    }

    [Fact]
    public async Task AgentApi_AllowModeWithoutACertificate_Serving()
    {
        var tls = new SpiffeServerTlsProvider(ServerSvid, Root.Bundle(), Authorizer.MemberOf(AcmeCorp), requireClientCertificate: false, TestClock.Create());
        await using var server = await StartAsync(setup: Setup(tls: tls));
        using var channel = AgentChannel(server, SpiffeTls.TlsClient(Root.Bundle(), Authorizer.Exact(ServerId), TestClock.Create()));

        var reply = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task AgentApi_AdminEndpoint_NotReachable()
    {
        await using var server = await StartAsync(setup: Setup(mapAdmin: MapWhoAmI));
        using var handler = new SocketsHttpHandler { SslOptions = SpiffeTls.MtlsClient(AgentSvid, Root.Bundle(), Authorizer.Exact(ServerId), TestClock.Create()) };
        using var http = new HttpClient(handler);

        var response = await http.SendAsync(Http2Get($"https://127.0.0.1:{server.AgentApiEndpoint.Port}/whoami"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task RunAsync_Cancelled_StopsAndRemovesTheSocket()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var setup = new ServerHostSetup
        {
            AgentTls = Setup().AgentTls,
            ConfigureServices = services => services.AddHostedService(sp => new SignalOnStarted(sp.GetRequiredService<IHostApplicationLifetime>(), started)),
        };
        using var cancel = new CancellationTokenSource();
        var path = Options().AdminSocketPath;

        var run = ServerHost.RunAsync(Options(), setup, _log.Factory, cancel.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(File.Exists(path));
        await cancel.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.False(File.Exists(path));
        Assert.Contains(_log.Events, e => e.EventId == 1005);
    }

    private ServerOptions Options(uint[]? adminUids = null) => new()
    {
        TrustDomain = AcmeCorp,
        DataDir = Path.Join(_dir.Path, "data"),
        Listen = new ListenerOptions
        {
            AgentApi = new HostPort("127.0.0.1", 0),
            Health = new HostPort("127.0.0.1", 0),
            AdminSocket = Path.Join(_dir.Path, "admin.sock"),
        },
        AdminUids = adminUids is null ? [0] : [.. adminUids],
    };

    private static ServerHostSetup Setup(
        Func<ReadinessStatus>? readiness = null,
        Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? mapAdmin = null,
        Action<Microsoft.AspNetCore.Routing.IEndpointRouteBuilder>? mapAgent = null,
        IServerTlsProvider? tls = null) => new()
    {
        AgentTls = tls ?? new SpiffeServerTlsProvider(ServerSvid, Root.Bundle(), Authorizer.MemberOf(AcmeCorp), timeProvider: TestClock.Create()),
        Readiness = readiness is null ? _ => ValueTask.FromResult(ReadinessStatus.Ready) : _ => ValueTask.FromResult(readiness()),
        MapAdminApi = mapAdmin,
        MapAgentApi = mapAgent,
    };

    private Task<ServerHostHandle> StartAsync(ServerOptions? options = null, ServerHostSetup? setup = null) =>
        ServerHost.StartAsync(options ?? Options(), setup ?? Setup(), _log.Factory);

    private static void MapWhoAmI(Microsoft.AspNetCore.Routing.IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/whoami", (HttpContext context) =>
            context.GetPeerCredentials() is { } peer ? $"uid={peer.UserId} pid={peer.ProcessId}" : "anonymous");

    private static Uri HealthUri(ServerHostHandle server, string path) => new($"http://127.0.0.1:{server.HealthEndpoint.Port}{path}");

    private static HttpRequestMessage Http2Get(string uri) => new(HttpMethod.Get, uri.StartsWith('/') ? "http://localhost" + uri : uri)
    {
        Version = HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static SocketsHttpHandler UnixHandler(string path) => TempSocket.HttpHandler(path);

    private static HttpClient AdminHttpClient(ServerHostHandle server) => new(UnixHandler(server.AdminSocketPath));

    private static GrpcChannel AdminChannel(ServerHostHandle server) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = UnixHandler(server.AdminSocketPath) });

    private static GrpcChannel AgentChannel(ServerHostHandle server, System.Net.Security.SslClientAuthenticationOptions tls) =>
        GrpcChannel.ForAddress(
            $"https://127.0.0.1:{server.AgentApiEndpoint.Port}",
            new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = tls } });

    private static X509Svid Svid(TestSvid svid) => new(svid.Chain, svid.Key);

    // Records each client-certificate decision (the client's SPIFFE ID, or null for none) of the provider it wraps.
    private sealed class RecordingTlsProvider(IServerTlsProvider inner) : IServerTlsProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(string? Id, bool Accepted)> _decisions = new();

        public (string? Id, bool Accepted)[] Decisions => [.. _decisions];

        public System.Net.Security.SslStreamCertificateContext GetServerCertificate() => inner.GetServerCertificate();

        public bool ValidateClientCertificate(
            System.Security.Cryptography.X509Certificates.X509Certificate2? certificate,
            System.Security.Cryptography.X509Certificates.X509Chain? chain,
            System.Net.Security.SslPolicyErrors sslPolicyErrors)
        {
            var accepted = inner.ValidateClientCertificate(certificate, chain, sslPolicyErrors);
            var id = certificate is not null && X509Svid.TryGetSpiffeId(certificate, out var spiffeId) ? spiffeId.ToString() : null;
            _decisions.Enqueue((id, accepted));
            return accepted;
        }
    }

    private sealed class SignalOnStarted(IHostApplicationLifetime lifetime, TaskCompletionSource started) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() => started.TrySetResult());
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    // The effective uid, as SO_PEERCRED reports it: the second field of /proc/self/status "Uid:".
    private static uint OwnUid() =>
        uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
}
