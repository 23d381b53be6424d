using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Agent.Config;
using Anchorage.Agent.Gate;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Gate;

/// <summary>
/// Issue 6 item 8: the gate interoperates with an independent TLS stack. The OpenSSL CLI plays
/// the federated peer: <c>openssl s_client</c> calls an inbound listener with an SVID minted by
/// the peer domain's server (and, as the negative, with an SVID-shaped certificate openssl made
/// itself for a trust domain nobody federates with); an outbound listener dials an
/// <c>openssl s_server</c> that presents an SVID of the expected peer (and, as the negative, one
/// of another ID of the same domain) and requires and verifies the gate's client certificate.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GateOpensslInteropTests
{
    private static readonly SpiffeId Web = SpiffeId.Parse("spiffe://acme.corp/web");
    private static readonly SpiffeId Api = SpiffeId.Parse("spiffe://payments.acme.corp/api");
    private static readonly SpiffeId Other = SpiffeId.Parse("spiffe://payments.acme.corp/other");

    private static string Uid => "unix:uid:" + TestServer.OwnUid().ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Inbound_OpensslClientWithFederatedSvid_Echoed_UnknownTrustDomainRefused()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var node = await GateNode.StartInboundApiAsync(domains, app);
        var port = ((IPEndPoint)node.Gate.Endpoints["api"]).Port.ToString(CultureInfo.InvariantCulture);

        using var dir = new TempDir();
        var web = await MintAsync(domains.Acme, Web, Path.Combine(dir.Path, "web"));
        var localBundle = Path.Combine(dir.Path, "payments-bundle.pem");
        await File.WriteAllTextAsync(localBundle, (await BundleOfAsync(domains.Payments, PaymentsTd)).ToX509Bundle().ToPem());
        var evil = await Openssl.EvilSvidAsync(Path.Combine(dir.Path, "evil"), "spiffe://evil.example/x");

        // The federated SVID: s_client verifies the gate's SVID with payments.acme.corp's bundle, the line comes back from the app.
        await using (var client = Openssl.Start(
            "s_client", "-connect", "127.0.0.1:" + port, "-cert", web.Cert, "-key", web.Key, "-CAfile", localBundle, "-verify_return_error", "-quiet"))
        {
            await client.WriteLineAsync("ping through the gate");
            await client.WaitForOutputAsync("ping through the gate");
        }

        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the inbound allow");
        Assert.Equal("inbound", allowed.Direction);
        Assert.Equal("web-to-api", allowed.Rule);
        Assert.Equal(Web.ToString(), allowed.PeerSpiffeId);
        Assert.Equal(AcmeTd.Name, allowed.PeerTrustDomain);
        Assert.Equal(Api.ToString(), allowed.SpiffeId);
        Assert.Equal(1, app.Accepted);

        // The same command with openssl's own SVID-shaped certificate of evil.example: the gate refuses it, nothing is forwarded.
        await using (var client = Openssl.Start(
            "s_client", "-connect", "127.0.0.1:" + port, "-cert", evil.Cert, "-key", evil.Key, "-CAfile", localBundle, "-verify_return_error", "-quiet"))
        {
            try
            {
                await client.WriteLineAsync("ping from evil");
            }
            catch (IOException)
            {
                // s_client already gave up on the refused connection.
            }

            Assert.True(await client.ExitedAsync(), "s_client kept a refused connection open");
            Assert.DoesNotContain("ping from evil", client.Output, StringComparison.Ordinal);
        }

        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the evil client's refusal");
        Assert.Equal("inbound", refused.Direction);
        Assert.Equal(GateReasons.PeerVerification, refused.Reason);
        Assert.Equal("no X.509 bundle for trust domain \"evil.example\"", refused.Detail);
        Assert.Equal(1, app.Accepted);
        Assert.Single(node.Audit.Records, r => r is { Kind: AuditKinds.Connection, Decision: "allow" });
    }

    /// <summary>
    /// Direct mTLS resumes sessions (docs/gate-transport.md): openssl, as an independent client,
    /// says <c>Reused,</c> on its second connection with the saved session, and the gate verified
    /// and authorized that one too (an allow with the client's ID for each connection).
    /// </summary>
    [Fact]
    public async Task Inbound_OpensslClientOffersItsSession_ReusedAndVerifiedAgain()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        await using var app = new PlainEchoServer();
        await using var node = await GateNode.StartInboundApiAsync(domains, app);
        var port = ((IPEndPoint)node.Gate.Endpoints["api"]).Port.ToString(CultureInfo.InvariantCulture);

        using var dir = new TempDir();
        var web = await MintAsync(domains.Acme, Web, Path.Combine(dir.Path, "web"));
        var localBundle = Path.Combine(dir.Path, "payments-bundle.pem");
        await File.WriteAllTextAsync(localBundle, (await BundleOfAsync(domains.Payments, PaymentsTd)).ToX509Bundle().ToPem());
        var session = Path.Combine(dir.Path, "session.pem");
        string[] Client(string sessionOption) =>
            ["s_client", "-connect", "127.0.0.1:" + port, "-cert", web.Cert, "-key", web.Key, "-CAfile", localBundle, "-verify_return_error", sessionOption, session];

        await using (var first = Openssl.Start(Client("-sess_out")))
        {
            await first.WriteLineAsync("ping one");
            await first.WaitForOutputAsync("ping one");
            Assert.Contains("New,", first.Output, StringComparison.Ordinal);
        }

        await using (var second = Openssl.Start(Client("-sess_in")))
        {
            await second.WriteLineAsync("ping two");
            await second.WaitForOutputAsync("ping two");
            Assert.Contains("Reused,", second.Output, StringComparison.Ordinal);
        }

        await TwoDomains.UntilAsync(() => node.Audit.Records.Count(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }) == 2, "an allow for each connection");
        Assert.All(
            node.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }),
            r => Assert.Equal(Web.ToString(), r.PeerSpiffeId));
        Assert.Equal(2, app.Accepted);
    }

    [Fact]
    public async Task Outbound_OpensslServerWithPeerSvid_Reached_WithOtherIdRefused()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        using var dir = new TempDir();
        var api = await MintAsync(domains.Payments, Api, Path.Combine(dir.Path, "api"));
        var other = await MintAsync(domains.Payments, Other, Path.Combine(dir.Path, "other"));
        var clientBundle = Path.Combine(dir.Path, "acme-bundle.pem");
        await File.WriteAllTextAsync(clientBundle, (await BundleOfAsync(domains.Acme, AcmeTd)).ToX509Bundle().ToPem());

        // s_server requires a client certificate (-Verify) and fails the handshake unless it verifies with acme.corp's bundle.
        await using var good = await Openssl.ServerAsync(api, clientBundle);
        await using var bad = await Openssl.ServerAsync(other, clientBundle);
        string goodSocket = null!;
        string badSocket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)], d => new GateOptions
        {
            Outbound =
            [
                new GateOutboundOptions { Name = "good", Listen = GateListenAddress.Unix(goodSocket = GateNode.SocketPath(d, "good")), Target = new HostPort("127.0.0.1", good.Port), Peer = Api },
                new GateOutboundOptions { Name = "bad", Listen = GateListenAddress.Unix(badSocket = GateNode.SocketPath(d, "bad")), Target = new HostPort("127.0.0.1", bad.Port), Peer = Api },
            ],
        }, policy);

        // The expected peer: the caller's line reaches s_server, s_server's line reaches the caller.
        await using (var stream = await GateClients.ConnectUnixAsync(goodSocket))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await stream.WriteAsync(Encoding.ASCII.GetBytes("ping from web\n"), timeout.Token);
            await good.Process.WaitForOutputAsync("ping from web");
            await good.Process.WriteLineAsync("pong from s_server");
            var back = new byte["pong from s_server\n".Length];
            await stream.ReadExactlyAsync(back, timeout.Token);
            Assert.Equal("pong from s_server\n", Encoding.ASCII.GetString(back));
        }

        // s_server (-naccept 1) exits once the gate closes; then its stdout holds the client certificate it verified.
        Assert.True(await good.Process.ExitedAsync(), "s_server did not exit after its one connection");
        var seen = ClientCertificate(good.Process.Output);
        Assert.Equal(Web.ToString(), UriSan(seen));
        var allowed = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }, "the outbound allow");
        Assert.Equal("outbound", allowed.Direction);
        Assert.Equal(Web.ToString(), allowed.SpiffeId);
        Assert.Equal(Api.ToString(), allowed.PeerSpiffeId);
        Assert.Equal(PaymentsTd.Name, allowed.PeerTrustDomain);
        Assert.Equal(Environment.ProcessId, allowed.Process!.Pid);

        // Negative control: s_server presents a valid payments.acme.corp SVID of another ID; the gate refuses, the caller gets nothing.
        await using (var stream = await GateClients.ConnectUnixAsync(badSocket))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("ping from web\n"), timeout.Token);
            }
            catch (IOException)
            {
                // The gate already closed the refused connection.
            }

            Assert.Equal(0, await ReadToCloseAsync(stream));
        }

        var refused = await node.Audit.WaitForAsync(r => r is { Kind: AuditKinds.Connection, Decision: "deny" }, "the refusal of /other");
        Assert.Equal("outbound", refused.Direction);
        Assert.Equal(GateReasons.PeerVerification, refused.Reason);
        Assert.Equal($"peer {Other} is not the expected peer", refused.Detail);
        Assert.True(await bad.Process.ExitedAsync(), "s_server did not exit after the refused connection");
        Assert.DoesNotContain("ping from web", bad.Process.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The outbound gate resumes too: openssl's status page (<c>s_server -www</c>) says <c>New,</c>
    /// for the first connection through the gate and <c>Reused,</c> for the second.
    /// </summary>
    [Fact]
    public async Task Outbound_OpensslServerHandsOutSessions_SecondConnectionReused()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.FederateBothWaysAsync();
        using var dir = new TempDir();
        var api = await MintAsync(domains.Payments, Api, Path.Combine(dir.Path, "api"));
        var clientBundle = Path.Combine(dir.Path, "acme-bundle.pem");
        await File.WriteAllTextAsync(clientBundle, (await BundleOfAsync(domains.Acme, AcmeTd)).ToX509Bundle().ToPem());
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        await using var server = Openssl.Start(
            "s_server", "-accept", port.ToString(CultureInfo.InvariantCulture), "-cert", api.Cert, "-key", api.Key,
            "-CAfile", clientBundle, "-Verify", "4", "-verify_return_error", "-naccept", "2", "-www");
        await server.WaitForOutputAsync("ACCEPT");
        string socket = null!;
        var policy = new MutablePolicySource(Policies.Of("v1", Policies.Allow("web-to-api", Web, Api)));
        await using var node = await GateNode.StartAsync(domains, AcmeTd, [new GateEntry("/web", [Uid, "unix:path:" + GateClients.OwnExe], PaymentsTd)], d => new GateOptions
        {
            Outbound = [new GateOutboundOptions { Name = "api", Listen = GateListenAddress.Unix(socket = GateNode.SocketPath(d, "api")), Target = new HostPort("127.0.0.1", port), Peer = Api }],
        }, policy);

        async Task<string> PageAsync()
        {
            await using var stream = await GateClients.ConnectUnixAsync(socket);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await stream.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray(), timeout.Token);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            return await reader.ReadToEndAsync(timeout.Token);
        }

        var first = await PageAsync();
        var second = await PageAsync();

        Assert.Contains("New,", first, StringComparison.Ordinal);
        Assert.Contains("Reused,", second, StringComparison.Ordinal);
        await TwoDomains.UntilAsync(() => node.Audit.Records.Count(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }) == 2, "an allow for each connection");
        Assert.All(
            node.Audit.Records.Where(r => r is { Kind: AuditKinds.Connection, Decision: "allow" }),
            r => Assert.Equal(Api.ToString(), r.PeerSpiffeId));
    }

    /// <summary>Runs <c>anchorage x509 mint --spiffe-id ID --write DIR</c> against <paramref name="server"/>.</summary>
    private static async Task<PemFiles> MintAsync(TestServer server, SpiffeId id, string directory)
    {
        var result = await server.CliAsync("x509", "mint", "--spiffe-id", id.ToString(), "--write", directory);
        Assert.True(result.ExitCode == 0, result.Error + result.Out);
        return new PemFiles(Path.Combine(directory, "svid.pem"), Path.Combine(directory, "key.pem"));
    }

    /// <summary>The PEM certificate s_server printed after "Client certificate".</summary>
    private static X509Certificate2 ClientCertificate(string output)
    {
        var at = output.IndexOf("Client certificate", StringComparison.Ordinal);
        Assert.True(at >= 0, "s_server printed no client certificate:\n" + output);
        const string End = "-----END CERTIFICATE-----";
        var start = output.IndexOf("-----BEGIN CERTIFICATE-----", at, StringComparison.Ordinal);
        var end = output.IndexOf(End, start, StringComparison.Ordinal) + End.Length;
        return X509Certificate2.CreateFromPem(output.AsSpan(start, end - start));
    }

    private static string UriSan(X509Certificate2 certificate)
    {
        Assert.True(X509Svid.TryGetSpiffeId(certificate, out var id), "the client certificate s_server saw has no SPIFFE ID");
        return id.ToString();
    }

    private static async Task<int> ReadToCloseAsync(Stream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[256];
        var total = 0;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (IOException)
        {
            // Reset by the gate: closed as well.
        }

        return total;
    }

    private sealed record PemFiles(string Cert, string Key);

    /// <summary>An <c>openssl s_server</c> listening on <see cref="Port"/>.</summary>
    private sealed record OpensslServer(int Port, Openssl Process) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }

    /// <summary>One openssl process: stdin open for lines, stdout and stderr collected; killed on dispose.</summary>
    private sealed class Openssl : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly Lock _lock = new();

        private Openssl(Process process)
        {
            _process = process;
        }

        /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
        public string Output
        {
            get
            {
                lock (_lock)
                {
                    return _output.ToString();
                }
            }
        }

        public static Openssl Start(params string[] args)
        {
            var start = new ProcessStartInfo("openssl")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var process = new Process { StartInfo = start };
            var openssl = new Openssl(process);
            process.OutputDataReceived += (_, e) => openssl.Append(e.Data);
            process.ErrorDataReceived += (_, e) => openssl.Append(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return openssl;
        }

        /// <summary>
        /// Starts <c>openssl s_server -accept PORT -cert -key -CAfile BUNDLE -Verify 4 -verify_return_error -naccept 1</c>
        /// on a free port and waits for its ACCEPT line. <c>-Verify</c> requires a client certificate;
        /// 4 is the chain depth it accepts.
        /// </summary>
        public static async Task<OpensslServer> ServerAsync(PemFiles svid, string clientBundle)
        {
            var free = new TcpListener(IPAddress.Loopback, 0);
            free.Start();
            var port = ((IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();
            var server = Start(
                "s_server", "-accept", port.ToString(CultureInfo.InvariantCulture), "-cert", svid.Cert, "-key", svid.Key,
                "-CAfile", clientBundle, "-Verify", "4", "-verify_return_error", "-naccept", "1");
            try
            {
                await server.WaitForOutputAsync("ACCEPT");
                return new OpensslServer(port, server);
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }

        /// <summary>
        /// An SVID-shaped certificate made by openssl alone: a self-made root CA and a leaf with
        /// <paramref name="uri"/> as its only URI SAN, CA:FALSE and digitalSignature.
        /// </summary>
        public static async Task<PemFiles> EvilSvidAsync(string directory, string uri)
        {
            Directory.CreateDirectory(directory);
            string P(string name) => Path.Combine(directory, name);
            await RunAsync(
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", P("ca.key"), "-out", P("ca.pem"),
                "-subj", "/CN=evil root", "-days", "1", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
            await RunAsync(
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", P("leaf.key"), "-out", P("leaf.csr"), "-subj", "/O=evil");
            await File.WriteAllTextAsync(P("ext.cnf"), $"subjectAltName=URI:{uri}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n");
            await RunAsync(
                "x509", "-req", "-in", P("leaf.csr"), "-CA", P("ca.pem"), "-CAkey", P("ca.key"), "-CAcreateserial", "-out", P("leaf.pem"),
                "-days", "1", "-extfile", P("ext.cnf"));
            return new PemFiles(P("leaf.pem"), P("leaf.key"));
        }

        public async Task WriteLineAsync(string line)
        {
            await _process.StandardInput.WriteAsync(line + "\n");
            await _process.StandardInput.FlushAsync();
        }

        /// <summary>Waits up to 20 s for <paramref name="text"/> in the output.</summary>
        public async Task WaitForOutputAsync(string text)
        {
            var clock = Stopwatch.StartNew();
            while (!Output.Contains(text, StringComparison.Ordinal))
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"openssl did not print \"{text}\"; it printed:\n{Output}");
                if (_process.HasExited)
                {
                    // Let the output readers drain, then look once more.
                    Assert.True(await ExitedAsync(), "openssl's output did not end");
                    Assert.True(Output.Contains(text, StringComparison.Ordinal), $"openssl exited ({_process.ExitCode}) without printing \"{text}\":\n{Output}");
                    return;
                }

                await Task.Delay(50);
            }
        }

        /// <summary>True when the process exits within 20 s (its output then complete).</summary>
        public async Task<bool> ExitedAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await _process.WaitForExitAsync(timeout.Token);
                }
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                // Already gone.
            }
            finally
            {
                _process.Dispose();
            }
        }

        private static async Task RunAsync(params string[] args)
        {
            await using var openssl = Start(args);
            openssl._process.StandardInput.Close();
            Assert.True(await openssl.ExitedAsync(), $"openssl {args[0]} did not finish");
            Assert.True(openssl._process.ExitCode == 0, $"openssl {string.Join(' ', args)} failed:\n{openssl.Output}");
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                _output.Append(line).Append('\n');
            }
        }
    }
}
