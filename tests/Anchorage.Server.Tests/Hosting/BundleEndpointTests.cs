using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Foundation.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Ca;
using Anchorage.Server.Config;
using Anchorage.Server.Federation;
using Anchorage.Server.Hosting;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Anchorage.Testing.X509;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Hosting;

/// <summary>
/// The bundle endpoint of a real server (<see cref="ServerApp"/>, SQLite, real sockets and TLS):
/// curl as the independent HTTP client, SPIFFE TLS to prove the https_spiffe identity, openssl
/// for the https_web certificates.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class BundleEndpointTests : IDisposable
{
    private const string WebHost = "bundle.acme.test";
    private static readonly TrustDomain AcmeCorp = TrustDomain.Parse("acme.corp");
    private static readonly SpiffeId ServerId = SpiffeId.Parse("spiffe://acme.corp/anchorage/server");

    // Certificates are made now (openssl stamps the wall clock), so the server's clock starts now.
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TempDir _dir = new();
    private readonly LogCapture _log = new();
    private readonly OpenSsl _openssl = new();

    public void Dispose()
    {
        _openssl.Dispose();
        _log.Dispose();
        _dir.Dispose();
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 5.2")]
    public async Task Get_HttpsSpiffe_ServesTheBundleSpiffeBundleParses()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        var (status, headers, body) = Curl("-k", "-i", Url(server));

        Assert.Equal(200, status);
        Assert.Equal("application/json", headers["content-type"]);
        Assert.Equal("no-store", headers["cache-control"]);
        var bundle = SpiffeBundle.Parse(AcmeCorp, Encoding.UTF8.GetBytes(body));
        var stored = (await server.Ca.GetBundleAsync(CancellationToken.None)).Bundle;
        Assert.Equal(stored.SequenceNumber, bundle.SequenceNumber);
        Assert.NotNull(bundle.SequenceNumber);
        Assert.Equal(TimeSpan.FromMinutes(5), bundle.RefreshHint);
        Assert.Equal(stored.X509Authorities.Select(c => c.Thumbprint), bundle.X509Authorities.Select(c => c.Thumbprint));
        Assert.Equal(stored.JwtAuthorities.Select(a => a.KeyId), bundle.JwtAuthorities.Select(a => a.KeyId));
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1")]
    public async Task Get_Body_EveryKeyHasUseAndTheHintIsPresent()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        var (_, _, body) = Curl("-k", Url(server));

        using var json = System.Text.Json.JsonDocument.Parse(body);
        var keys = json.RootElement.GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(2, keys.Count);
        Assert.Equal(["x509-svid", "jwt-svid"], keys.Select(k => k.GetProperty("use").GetString()));
        Assert.Equal(300, json.RootElement.GetProperty("spiffe_refresh_hint").GetInt64());
        Assert.True(json.RootElement.GetProperty("spiffe_sequence").GetUInt64() >= 1);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.1")]
    public async Task Get_AfterPrepare_ShowsTheNewSequenceAndAuthority()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        var before = SpiffeBundle.Parse(AcmeCorp, Encoding.UTF8.GetBytes(Curl("-k", Url(server)).Body));

        await server.Ca.PrepareAsync(AuthorityKind.X509, CancellationToken.None);
        var after = SpiffeBundle.Parse(AcmeCorp, Encoding.UTF8.GetBytes(Curl("-k", Url(server)).Body));

        Assert.True(after.SequenceNumber > before.SequenceNumber, $"{before.SequenceNumber} -> {after.SequenceNumber}");
        Assert.Equal(before.X509Authorities.Length + 1, after.X509Authorities.Length);
    }

    [Theory]
    [InlineData("--http1.1", "1.1")]
    [InlineData("--http2", "2")]
    public async Task Get_Http1AndHttp2_BothServed(string flag, string version)
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        var (status, _, body) = Curl("-k", "-i", flag, "-w", "\n%{http_version}", Url(server));

        Assert.Equal(200, status);
        Assert.EndsWith("\n" + version, body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Head_Root_HeadersWithoutBody()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        var length = Encoding.UTF8.GetByteCount(Curl("-k", Url(server)).Body);

        var (status, headers, body) = Curl("-k", "-I", Url(server));

        Assert.Equal(200, status);
        Assert.Equal("application/json", headers["content-type"]);
        Assert.Equal(length.ToString(System.Globalization.CultureInfo.InvariantCulture), headers["content-length"]);
        Assert.DoesNotContain("keys", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public async Task OtherMethods_Root_405WithAllow(string method)
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        var (status, headers, body) = Curl("-k", "-i", "-X", method, Url(server));

        Assert.Equal(405, status);
        Assert.Equal("GET, HEAD", headers["allow"]);
        Assert.DoesNotContain("keys", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/bundle")]
    [InlineData("/live")]
    [InlineData("/metrics")]
    [InlineData("/keys.json")]
    public async Task Get_OtherPath_404(string path)
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        var (status, _, body) = Curl("-k", "-i", Url(server) + path.TrimStart('/'));

        Assert.Equal(404, status);
        Assert.DoesNotContain("keys", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrpcApis_OnTheBundleEndpoint_NotServed()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        using var channel = GrpcChannel.ForAddress(
            Url(server),
            new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = AnyServer() } });

        var agent = await Assert.ThrowsAsync<RpcException>(() => new AgentApi.AgentApiClient(channel).GetBundlesAsync(new GetBundlesRequest()).ResponseAsync);
        var admin = await Assert.ThrowsAsync<RpcException>(() => new AdminApi.AdminApiClient(channel).GetEntryAsync(new GetEntryRequest { Id = "x" }).ResponseAsync);
        var health = await Assert.ThrowsAsync<RpcException>(() => new Grpc.Health.V1.Health.HealthClient(channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unimplemented, agent.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, admin.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, health.StatusCode);
    }

    [Fact]
    public async Task BundlePath_OnTheHealthAndAgentListeners_NotFound()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        using var handler = new SocketsHttpHandler { SslOptions = AnyServer() };
        using var http = new HttpClient(handler);

        var health = await http.GetAsync(new Uri($"http://127.0.0.1:{server.Host.HealthEndpoint.Port}/"));
        var agent = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{server.Host.AgentApiEndpoint.Port}/")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        var bundle = await http.GetAsync(new Uri(Url(server)));

        Assert.Equal(HttpStatusCode.NotFound, health.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, agent.StatusCode);
        Assert.Equal(HttpStatusCode.OK, bundle.StatusCode); // control: the same client, the bundle listener
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 5.2.2")]
    public async Task HttpsSpiffe_ClientVerifiesTheServerId_WithTheServedBundle()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        var served = SpiffeBundle.Parse(AcmeCorp, Encoding.UTF8.GetBytes(Curl("-k", Url(server)).Body)).ToX509Bundle();

        var right = await FetchAsync(server, SpiffeTls.TlsClient(served, Authorizer.Exact(ServerId), _time));
        var wrong = await Assert.ThrowsAsync<HttpRequestException>(
            () => FetchAsync(server, SpiffeTls.TlsClient(served, Authorizer.Exact(SpiffeId.Parse("spiffe://acme.corp/other")), _time)));

        Assert.Equal(HttpStatusCode.OK, right);
        Assert.IsType<System.Security.Authentication.AuthenticationException>(wrong.InnerException);
    }

    [Fact]
    public async Task HttpsSpiffe_NoClientCertificateRequested()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);

        // openssl's message trace shows whether the server's flight holds a CertificateRequest.
        var bundle = HandshakeTrace(server.Host.BundleEndpoint!.Port);
        var agent = HandshakeTrace(server.Host.AgentApiEndpoint.Port); // control: the agent API always asks

        Assert.Contains("ServerHelloDone", bundle, StringComparison.Ordinal);
        Assert.DoesNotContain("CertificateRequest", bundle, StringComparison.Ordinal);
        Assert.Contains("CertificateRequest", agent, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 5.2.2")]
    public async Task HttpsSpiffe_AfterActivation_NewConnectionGetsTheRenewedSvid()
    {
        await using var server = await StartAsync(BundleEndpointProfile.HttpsSpiffe);
        var first = await PresentedCertificateAsync(server, null);

        await server.Ca.PrepareAsync(AuthorityKind.X509, CancellationToken.None);
        await server.Ca.ActivateAsync(AuthorityKind.X509, null, CancellationToken.None);
        var second = await PresentedCertificateAsync(server, null);

        Assert.Equal(server.Ca.ServerSvid.GetX509Svid().Leaf.Thumbprint, second.Thumbprint);
        Assert.NotEqual(first.Thumbprint, second.Thumbprint);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 5.2.1")]
    public async Task HttpsWeb_CurlWithTheCa_SucceedsForTheRightHostOnly()
    {
        var files = WebFiles();
        await using var server = await StartAsync(BundleEndpointProfile.HttpsWeb, files);
        var port = server.Host.BundleEndpoint!.Port;

        var right = RunCurl("-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", _openssl.PathOf("webca.pem"),
            "--resolve", $"{WebHost}:{port}:127.0.0.1", $"https://{WebHost}:{port}/");
        var otherHost = RunCurl("-s", "-o", "/dev/null", "--cacert", _openssl.PathOf("webca.pem"),
            "--resolve", $"other.acme.test:{port}:127.0.0.1", $"https://other.acme.test:{port}/");
        var noCa = RunCurl("-s", "-o", "/dev/null", "--resolve", $"{WebHost}:{port}:127.0.0.1", $"https://{WebHost}:{port}/");

        Assert.Equal((0, "200"), (right.ExitCode, right.Out));
        Assert.Equal(60, otherHost.ExitCode); // CURLE_PEER_FAILED_VERIFICATION: name mismatch
        Assert.Equal(60, noCa.ExitCode);
    }

    [Fact]
    public async Task HttpsWeb_FilesReplaced_NewConnectionGetsTheNewCertificate_GarbageKeepsIt()
    {
        var files = WebFiles();
        await using var server = await StartAsync(BundleEndpointProfile.HttpsWeb, files);
        var ca = new OpenSslCa(_openssl);
        var original = await PresentedCertificateAsync(server, WebHost);

        // A new pair: seen on the next connection after the check interval.
        ca.Issue("web2", "webca", WebExtensions);
        Install("web2", files);
        _time.Advance(ServingCertificateFiles.DefaultCheckInterval);
        var renewed = await PresentedCertificateAsync(server, WebHost);

        // Garbage over the certificate: the renewed one stays, and the failure is logged.
        File.WriteAllText(files.CertFile, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        _time.Advance(ServingCertificateFiles.DefaultCheckInterval);
        var afterGarbage = await PresentedCertificateAsync(server, WebHost);

        // Control: a good pair after the garbage loads again.
        ca.Issue("web3", "webca", WebExtensions);
        Install("web3", files);
        _time.Advance(ServingCertificateFiles.DefaultCheckInterval);
        var third = await PresentedCertificateAsync(server, WebHost);

        Assert.Equal(ca.Load("web").Thumbprint, original.Thumbprint);
        Assert.Equal(ca.Load("web2").Thumbprint, renewed.Thumbprint);
        Assert.Equal(ca.Load("web2").Thumbprint, afterGarbage.Thumbprint);
        Assert.Equal(ca.Load("web3").Thumbprint, third.Thumbprint);
        Assert.Contains(_log.Events, e => e.EventId == 1008 && e.Level == LogLevel.Error
            && e.Message.StartsWith($"bundle endpoint certificate not reloaded from {files.CertFile}: serving certificate file {files.CertFile} ", StringComparison.Ordinal));
        Assert.Equal(2, _log.Events.Count(e => e.EventId == 1007));
    }

    [Fact]
    public async Task HttpsWeb_KeyFileHoldsACertificate_StartFailsNamingTheFile()
    {
        var files = WebFiles();
        var options = Options(BundleEndpointProfile.HttpsWeb, files with { KeyFile = files.CertFile });

        var e = await Assert.ThrowsAsync<FormatException>(() => ServerApp.StartAsync(options, _log.Factory, _time, CancellationToken.None));

        Assert.Equal($"serving key file {files.CertFile}: no private key found", e.Message);
        await using var control = await StartAsync(BundleEndpointProfile.HttpsWeb, files);
        Assert.NotNull(control.Host.BundleEndpoint);
    }

    [Fact]
    public async Task HttpsWeb_KeyOfAnotherPair_StartFailsNamingTheFile()
    {
        var files = WebFiles();
        new OpenSslCa(_openssl).Issue("other", "webca", WebExtensions);
        var options = Options(BundleEndpointProfile.HttpsWeb, files with { KeyFile = _openssl.PathOf("other.key") });

        var e = await Assert.ThrowsAsync<FormatException>(() => ServerApp.StartAsync(options, _log.Factory, _time, CancellationToken.None));

        Assert.Equal($"serving key file {_openssl.PathOf("other.key")} does not match the certificate in {files.CertFile}", e.Message);
        await using var control = await StartAsync(BundleEndpointProfile.HttpsWeb, files);
        Assert.NotNull(control.Host.BundleEndpoint);
    }

    public static TheoryData<string, string> BadStartFiles => new()
    {
        { "missing.pem", "serving certificate file {0} does not exist" },
        { "garbage.pem", "serving certificate file {0} holds no PEM certificate" },
    };

    [Theory]
    [MemberData(nameof(BadStartFiles))]
    public async Task HttpsWeb_BadCertificateFile_StartFailsNamingTheFile(string name, string message)
    {
        var files = WebFiles();
        _openssl.WriteFile("garbage.pem", "hello\n");
        var path = _openssl.PathOf(name);

        var e = await Assert.ThrowsAnyAsync<Exception>(
            () => ServerApp.StartAsync(Options(BundleEndpointProfile.HttpsWeb, files with { CertFile = path }), _log.Factory, _time, CancellationToken.None));

        Assert.True(e is IOException or FormatException, e.ToString());
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, path), e.Message);
    }

    [Fact]
    public async Task NotConfigured_NoBundleEndpoint()
    {
        await using var server = await ServerApp.StartAsync(Options(null, null), _log.Factory, _time, CancellationToken.None);

        Assert.Null(server.Host.BundleEndpoint);
        Assert.DoesNotContain(_log.Events, e => e.EventId == 1006);
    }

    private const string WebExtensions =
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:" + WebHost + "\n";

    // An openssl CA and a leaf for WebHost, copied to the configured paths.
    private ServingCertOptions WebFiles()
    {
        var ca = new OpenSslCa(_openssl);
        ca.CreateRoot("webca");
        ca.Issue("web", "webca", WebExtensions);
        var files = new ServingCertOptions { CertFile = Path.Join(_dir.Path, "web.crt"), KeyFile = Path.Join(_dir.Path, "web.key") };
        Install("web", files);
        return files;
    }

    // Replaces the files as a tool would: write beside, then rename over (key first, then certificate).
    private void Install(string name, ServingCertOptions files)
    {
        File.Copy(_openssl.PathOf(name + ".key"), files.KeyFile + ".tmp", overwrite: true);
        File.Move(files.KeyFile + ".tmp", files.KeyFile, overwrite: true);
        File.Copy(_openssl.PathOf(name + ".pem"), files.CertFile + ".tmp", overwrite: true);
        File.Move(files.CertFile + ".tmp", files.CertFile, overwrite: true);
    }

    private ServerOptions Options(BundleEndpointProfile? profile, ServingCertOptions? files) => new()
    {
        TrustDomain = AcmeCorp,
        DataDir = Path.Join(_dir.Path, "data"),
        Listen = new ListenerOptions
        {
            AgentApi = new HostPort("127.0.0.1", 0),
            Health = new HostPort("127.0.0.1", 0),
            AdminSocket = Path.Join(_dir.Path, "admin.sock"),
        },
        Federation = new FederationOptions
        {
            BundleEndpoint = profile is null
                ? null
                : new BundleEndpointOptions { Listen = new HostPort("127.0.0.1", 0), Profile = profile.Value, ServingCert = files },
        },
    };

    private Task<RunningServer> StartAsync(BundleEndpointProfile profile, ServingCertOptions? files = null) =>
        ServerApp.StartAsync(Options(profile, files), _log.Factory, _time, CancellationToken.None);

    private static string Url(RunningServer server) => $"https://127.0.0.1:{server.Host.BundleEndpoint!.Port}/";

    // Accepts any server certificate: for tests of HTTP behaviour, not of identity.
    private static SslClientAuthenticationOptions AnyServer() => new()
    {
        TargetHost = "localhost",
        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
    };

    private static async Task<HttpStatusCode> FetchAsync(RunningServer server, SslClientAuthenticationOptions tls)
    {
        using var handler = new SocketsHttpHandler { SslOptions = tls };
        using var http = new HttpClient(handler);
        using var response = await http.GetAsync(new Uri(Url(server)));
        return response.StatusCode;
    }

    // One new TLS connection; returns the leaf the server presented.
    private static async Task<X509Certificate2> PresentedCertificateAsync(RunningServer server, string? host)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Host.BundleEndpoint!.Port);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = host ?? "localhost",
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
        });
        return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());
    }

    private string HandshakeTrace(int port) => _openssl.TryRunWithInput(
        string.Empty, "s_client", "-connect", $"127.0.0.1:{port}", "-tls1_2", "-msg", "-alpn", "h2").StandardOutput;

    // curl -i / -I output: status line, headers, blank line, body.
    private static (int Status, Dictionary<string, string> Headers, string Body) Curl(params string[] args)
    {
        var (exit, output) = RunCurl(["-s", .. args]);
        Assert.True(exit == 0, $"curl exited {exit}");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!output.StartsWith("HTTP/", StringComparison.Ordinal))
        {
            return (0, headers, output);
        }

        var split = output.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = split < 0 ? output : output[..split];
        var lines = head.Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        return (status, headers, split < 0 ? string.Empty : output[(split + 4)..]);
    }

    private static (int ExitCode, string Out) RunCurl(params string[] args)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add("--max-time");
        info.ArgumentList.Add("30");
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "curl did not finish");
        _ = stderr.GetAwaiter().GetResult();
        return (process.ExitCode, stdout);
    }
}
