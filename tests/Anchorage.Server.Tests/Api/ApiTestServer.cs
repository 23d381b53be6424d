using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Hosting;
using Anchorage.Server.Tests.Hosting;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Anchorage.Testing.Sockets;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// A real server in-process: ServerHost on port 0 with real mTLS, the admin socket in a temp
/// directory, a SQLite datastore, and the APIs wired exactly as the server wires them.
/// </summary>
internal sealed class ApiTestServer : IAsyncDisposable
{
    public static readonly TrustDomain Td = TrustDomain.Parse("acme.corp");
    public static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://acme.corp/anchorage/server");

    private readonly TempDir _dir;
    private readonly List<GrpcChannel> _channels = [];

    private ApiTestServer(TempDir dir, IDataStore store, CaManager ca, LiveBundle bundle, ServerHostHandle host, LogCapture log)
    {
        _dir = dir;
        Store = store;
        Ca = ca;
        Bundle = bundle;
        Host = host;
        Log = log;
        Admin = new AdminApi.AdminApiClient(AdminChannel());
    }

    public IDataStore Store { get; }

    public CaManager Ca { get; }

    /// <summary>The trust domain's X.509 bundle as last published (follows rotations).</summary>
    public LiveBundle Bundle { get; }

    public ServerHostHandle Host { get; }

    public LogCapture Log { get; }

    public AdminApi.AdminApiClient Admin { get; }

    /// <param name="options">The API limits.</param>
    /// <param name="decorate">Wraps the CA the services see (e.g. to hold signing calls); null for the CA itself.</param>
    /// <param name="configure">Registers more services (e.g. a test federation refresher); null for none.</param>
    /// <param name="maxConnectionsPerPeer">The agent listener's per-peer connection cap; null for the default.</param>
    /// <param name="agentRequestBodyDeadline">The agent listener's request body deadline; null for the default.</param>
    public static async Task<ApiTestServer> StartAsync(
        ApiOptions? options = null,
        Func<ICertificateAuthority, ICertificateAuthority>? decorate = null,
        Action<IServiceCollection>? configure = null,
        int? maxConnectionsPerPeer = null,
        TimeSpan? agentRequestBodyDeadline = null)
    {
        var dir = new TempDir();
        var log = new LogCapture();
        var store = await DataStoreFactory.OpenAsync(DataStoreOptions.ForDataDirectory(dir.Path), TimeProvider.System, null, CancellationToken.None);
        var ca = await CaManager.StartAsync(
            new CaManagerOptions { TrustDomain = Td, ServerId = "test-server" },
            store,
            new MemoryKeyManager(),
            TimeProvider.System,
            log.Factory.CreateLogger("Anchorage.Server.Ca"),
            CancellationToken.None);
        var bundle = await LiveBundle.FollowAsync(ca);
        var setup = new ServerHostSetup
        {
            AgentTls = new SpiffeServerTlsProvider(ca.ServerSvid, bundle, Authorizer.MemberOf(Td), requireClientCertificate: false),
            ConfigureServices = services =>
            {
                services.AddSingleton(store);
                services.AddSingleton(decorate is null ? ca : decorate(ca));
                services.AddAnchorageApis(options);
                configure?.Invoke(services);
            },
            MapAgentApi = ApiEndpoints.MapAgentApi,
            MapAdminApi = ApiEndpoints.MapAdminApi,
            MaxAgentConnectionsPerPeer = maxConnectionsPerPeer ?? 32,
            AgentRequestBodyDeadline = agentRequestBodyDeadline ?? TimeSpan.FromSeconds(30),
        };
        var serverOptions = new ServerOptions
        {
            TrustDomain = Td,
            DataDir = dir.Path,
            ServerId = "test-server",
            Listen = new ListenerOptions
            {
                AgentApi = new HostPort("127.0.0.1", 0),
                Health = new HostPort("127.0.0.1", 0),
                AdminSocket = Path.Join(dir.Path, "admin.sock"),
            },
            AdminUids = [OwnUid()],
        };
        var host = await ServerHost.StartAsync(serverOptions, setup, log.Factory);
        return new ApiTestServer(dir, store, ca, bundle, host, log);
    }

    /// <summary>An agent API client presenting <paramref name="svid"/>, or no certificate.</summary>
    public AgentApi.AgentApiClient Agent(X509Svid? svid = null)
    {
        var tls = svid is null
            ? Spiffe.Tls.SpiffeTls.TlsClient(Bundle, Authorizer.Exact(ServerId))
            : Spiffe.Tls.SpiffeTls.MtlsClient(svid, Bundle, Authorizer.Exact(ServerId));
        var channel = GrpcChannel.ForAddress(
            $"https://127.0.0.1:{Host.AgentApiEndpoint.Port}",
            new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = tls } });
        _channels.Add(channel);
        return new AgentApi.AgentApiClient(channel);
    }

    /// <summary>Generates a join token and redeems it: the agent's SVID (with its key) and its ID.</summary>
    public async Task<X509Svid> AttestAsync(string? alias = null)
    {
        var token = await Admin.GenerateJoinTokenAsync(new GenerateJoinTokenRequest { SpiffeId = alias ?? string.Empty });
        return await RedeemAsync(token.Token);
    }

    public async Task<X509Svid> RedeemAsync(string token)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await Agent().AttestJoinTokenAsync(new AttestJoinTokenRequest { Token = token, Csr = Csr(key) });
        return ToSvid(response.Svid, key);
    }

    public static X509Svid ToSvid(Common.X509Svid svid, ECDsa key) =>
        new([.. svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span))], key);

    public static Google.Protobuf.ByteString Csr(ECDsa key) =>
        Google.Protobuf.ByteString.CopyFrom(new CertificateRequest("CN=ignored", key, HashAlgorithmName.SHA256).CreateSigningRequest());

    public static Google.Protobuf.ByteString NewCsr() => Csr(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await Host.DisposeAsync();
        await Ca.DisposeAsync();
        await Store.DisposeAsync();
        Log.Dispose();
        _dir.Dispose();
    }

    private GrpcChannel AdminChannel()
    {
        var path = Host.AdminSocketPath;
        var handler = TempSocket.HttpHandler(path);
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        _channels.Add(channel);
        return channel;
    }

    /// <summary>The local trust domain's X.509 bundle, replaced whenever the CA publishes a new one.</summary>
    internal sealed class LiveBundle : Spiffe.Bundles.IX509BundleSource
    {
        private volatile Spiffe.Bundles.X509Bundle _current;

        private LiveBundle(Spiffe.Bundles.X509Bundle current) => _current = current;

        public Spiffe.Bundles.X509Bundle Current => _current;

        public static async Task<LiveBundle> FollowAsync(CaManager ca)
        {
            var live = new LiveBundle((await ca.GetBundleAsync(CancellationToken.None)).Bundle.ToX509Bundle());
            ca.BundleChanged += (_, stored) => live._current = stored.Bundle.ToX509Bundle();
            return live;
        }

        public bool TryGetX509Bundle(TrustDomain trustDomain, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Spiffe.Bundles.X509Bundle? bundle) =>
            _current.TryGetX509Bundle(trustDomain, out bundle);
    }

    // The effective uid, as SO_PEERCRED reports it: the second field of /proc/self/status "Uid:".
    public static uint OwnUid() =>
        uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
}
