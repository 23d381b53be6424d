using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
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

    private ApiTestServer(TempDir dir, IDataStore store, TestCertificateAuthority ca, ServerHostHandle host, LogCapture log)
    {
        _dir = dir;
        Store = store;
        Ca = ca;
        Host = host;
        Log = log;
        Admin = new AdminApi.AdminApiClient(AdminChannel());
    }

    public IDataStore Store { get; }

    public TestCertificateAuthority Ca { get; }

    public ServerHostHandle Host { get; }

    public LogCapture Log { get; }

    public AdminApi.AdminApiClient Admin { get; }

    public static async Task<ApiTestServer> StartAsync(ApiOptions? options = null)
    {
        var dir = new TempDir();
        var log = new LogCapture();
        var store = await DataStoreFactory.OpenAsync(DataStoreOptions.ForDataDirectory(dir.Path), TimeProvider.System, null, CancellationToken.None);
        var ca = new TestCertificateAuthority(Td, store);
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverSvid = new X509Svid(
            [X509CertificateLoader.LoadCertificate(new X509SvidIssuer(ca.Authority).Issue(ServerId, serverKey.ExportSubjectPublicKeyInfo()))],
            ECDsa.Create(serverKey.ExportParameters(includePrivateParameters: true)));
        var setup = new ServerHostSetup
        {
            AgentTls = new SpiffeServerTlsProvider(serverSvid, ca.X509Bundle, Authorizer.MemberOf(Td), requireClientCertificate: false),
            ConfigureServices = services =>
            {
                services.AddSingleton(store);
                services.AddSingleton<ICertificateAuthority>(ca);
                services.AddAnchorageApis(options);
            },
            MapAgentApi = ApiEndpoints.MapAgentApi,
            MapAdminApi = ApiEndpoints.MapAdminApi,
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
        return new ApiTestServer(dir, store, ca, host, log);
    }

    /// <summary>An agent API client presenting <paramref name="svid"/>, or no certificate.</summary>
    public AgentApi.AgentApiClient Agent(X509Svid? svid = null)
    {
        var tls = svid is null
            ? Spiffe.Tls.SpiffeTls.TlsClient(Ca.X509Bundle, Authorizer.Exact(ServerId))
            : Spiffe.Tls.SpiffeTls.MtlsClient(svid, Ca.X509Bundle, Authorizer.Exact(ServerId));
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
        await Store.DisposeAsync();
        Ca.Dispose();
        Log.Dispose();
        _dir.Dispose();
    }

    private GrpcChannel AdminChannel()
    {
        var path = Host.AdminSocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        _channels.Add(channel);
        return channel;
    }

    // The effective uid, as SO_PEERCRED reports it: the second field of /proc/self/status "Uid:".
    private static uint OwnUid() =>
        uint.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]);
}
