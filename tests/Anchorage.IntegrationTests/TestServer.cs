using System.Net.Http;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Cli;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Hosting;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.IntegrationTests;

/// <summary>What one CLI run printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error);

/// <summary>
/// A server composed exactly as <c>anchorage server run</c> composes it (<see cref="ServerApp"/>),
/// in-process, on a temp data dir with free ports; the CLI runs in-process against its admin socket.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    public static readonly TrustDomain Td = TrustDomain.Parse("acme.corp");

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDir? _ownDir;
    private readonly List<GrpcChannel> _channels = [];

    private TestServer(TempDir? ownDir, string dataDir, RunningServer server)
    {
        _ownDir = ownDir;
        DataDir = dataDir;
        Server = server;
        Admin = new AdminApi.AdminApiClient(Track(AdminChannel(server.Host.AdminSocketPath)));
    }

    public string DataDir { get; }

    public RunningServer Server { get; }

    public AdminApi.AdminApiClient Admin { get; }

    public string Socket => Server.Host.AdminSocketPath;

    /// <summary>Options of a server on <paramref name="dataDir"/>: ports 0, the socket in the data dir, this uid as admin.</summary>
    public static ServerOptions Options(string dataDir, DatastoreOptions? datastore = null, string? serverId = null) => new()
    {
        TrustDomain = Td,
        DataDir = dataDir,
        ServerId = serverId,
        Datastore = datastore ?? new DatastoreOptions(),
        Listen = new ListenerOptions
        {
            AgentApi = new HostPort("127.0.0.1", 0),
            Health = new HostPort("127.0.0.1", 0),
        },
        AdminUids = [OwnUid()],
    };

    public static Task<TestServer> StartAsync() => StartAsync(null);

    public static Task<TestServer> StartAsync(ServerOptions? options) => StartAsync(options, null);

    /// <summary>Starts a server logging to <paramref name="loggers"/> (none when null).</summary>
    public static Task<TestServer> StartAsync(ServerOptions? options, Microsoft.Extensions.Logging.ILoggerFactory? loggers) =>
        StartAsync(options, loggers, TimeProvider.System);

    /// <summary>Starts a server on <paramref name="time"/> (a clock that may be moved ahead of the system's).</summary>
    public static async Task<TestServer> StartAsync(ServerOptions? options, Microsoft.Extensions.Logging.ILoggerFactory? loggers, TimeProvider time)
    {
        TempDir? dir = null;
        if (options is null)
        {
            dir = new TempDir();
            options = Options(dir.Path);
        }

        try
        {
            using var timeout = new CancellationTokenSource(StartTimeout);
            var server = await ServerApp.StartAsync(options, loggers ?? NullLoggerFactory.Instance, time, timeout.Token);
            return new TestServer(dir, options.DataDir, server);
        }
        catch
        {
            dir?.Dispose();
            throw;
        }
    }

    /// <summary>Runs <c>anchorage ARGS --socket SOCKET</c> in-process.</summary>
    public Task<CliResult> CliAsync(params string[] args) => RunCliAsync([.. args, "--socket", Socket]);

    /// <summary>Runs <c>anchorage ARGS</c> in-process with a 60 s bound.</summary>
    public static async Task<CliResult> RunCliAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await CliApp.RunAsync(args, new CliContext(stdout, stderr, TimeProvider.System), timeout.Token);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The trust bundle as the admin API serves it.</summary>
    public async Task<SpiffeBundle> BundleAsync()
    {
        var bundle = await Admin.GetBundleAsync(new GetBundleRequest());
        return SpiffeBundle.Parse(Td, bundle.SpiffeBundleJson.Span);
    }

    /// <summary>An agent API client presenting <paramref name="svid"/> (or no certificate), trusting <paramref name="bundle"/>.</summary>
    public AgentApi.AgentApiClient Agent(X509Svid? svid, IX509BundleSource bundle)
    {
        var serverId = SpiffeId.FromPath(Td, "/anchorage/server");
        var tls = svid is null
            ? Spiffe.Tls.SpiffeTls.TlsClient(bundle, Authorizer.Exact(serverId))
            : Spiffe.Tls.SpiffeTls.MtlsClient(svid, bundle, Authorizer.Exact(serverId));
        var channel = GrpcChannel.ForAddress(
            $"https://127.0.0.1:{Server.Host.AgentApiEndpoint.Port}",
            new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = tls } });
        _channels.Add(channel);
        return new AgentApi.AgentApiClient(channel);
    }

    public static X509Svid ToSvid(Common.X509Svid svid, ECDsa key) =>
        new([.. svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span))], key);

    public static Google.Protobuf.ByteString Csr(ECDsa key) =>
        Google.Protobuf.ByteString.CopyFrom(new CertificateRequest("CN=ignored", key, HashAlgorithmName.SHA256).CreateSigningRequest());

    public static Google.Protobuf.ByteString NewCsr()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Csr(key);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await Server.DisposeAsync();
        _ownDir?.Dispose();
    }

    internal static GrpcChannel AdminChannel(string path)
    {
        var handler = TempSocket.HttpHandler(path);
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    private GrpcChannel Track(GrpcChannel channel)
    {
        _channels.Add(channel);
        return channel;
    }

    // The effective uid, as SO_PEERCRED reports it: the second field of /proc/self/status "Uid:".
    internal static uint OwnUid() =>
        uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
}
