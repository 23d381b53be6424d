using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.WorkloadApi.Tests.Fixtures;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Commands.Agent;

/// <summary><c>anchorage agent api ...</c> and <c>agent healthcheck</c> against a real Workload API server.</summary>
public sealed class AgentApiCommandTests : IAsyncLifetime
{
    private TestWorkloadApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestWorkloadApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<CliResult> RunAsync(params string[] args) => CliRunner.RunAsync(_server.Time, args);

    [Fact]
    public async Task FetchX509_Write_FilesThatOpensslVerifies()
    {
        var dir = Path.Combine(_server.Dir, "out");

        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", _server.SocketPath, "--write", dir);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"wrote 1 svid(s) and 2 bundle(s) to {dir}\n", result.Out);
        var keyMode = OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(Path.Combine(dir, "svid.0.key"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, keyMode);
        Assert.True(File.Exists(Path.Combine(dir, "federated_bundle.federated.test.pem")));
        var written = X509Svid.Load(Path.Combine(dir, "svid.0.pem"), Path.Combine(dir, "svid.0.key"));
        Assert.Equal(_server.Svid.Leaf.RawData, written.Leaf.RawData);

        using var openssl = new OpenSsl();
        var at = _server.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var ok = openssl.TryRun("verify", "-attime", at, "-CAfile", Path.Combine(dir, "bundle.0.pem"), Path.Combine(dir, "svid.0.pem"));
        Assert.True(ok.ExitCode == 0, ok.StandardError + ok.StandardOutput);

        // Control: the federated bundle does not vouch for this SVID.
        var foreign = openssl.TryRun("verify", "-attime", at, "-CAfile", Path.Combine(dir, "federated_bundle.federated.test.pem"), Path.Combine(dir, "svid.0.pem"));
        Assert.NotEqual(0, foreign.ExitCode);
    }

    [Fact]
    public async Task FetchX509_WriteOverSymlinks_LinksReplacedTargetsUntouched()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_server.Dir, "out")).FullName;
        var victim = Path.Combine(_server.Dir, "victim");
        File.WriteAllText(victim, "root-owned");
        foreach (var name in new[] { "svid.0.pem", "svid.0.key", "bundle.0.pem", "federated_bundle.federated.test.pem" })
        {
            File.CreateSymbolicLink(Path.Combine(dir, name), victim);
        }

        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", _server.SocketPath, "--write", dir);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("root-owned", File.ReadAllText(victim));
        Assert.All(Directory.GetFiles(dir), f => Assert.Null(new FileInfo(f).LinkTarget));
        var written = X509Svid.Load(Path.Combine(dir, "svid.0.pem"), Path.Combine(dir, "svid.0.key"));
        Assert.Equal(_server.Svid.Leaf.RawData, written.Leaf.RawData);
    }

    [Fact]
    public async Task FetchX509_NoWrite_PrintsIdHintExpiryAndBundleDomains()
    {
        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", "unix://" + _server.SocketPath);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            "SPIFFE ID:  spiffe://example.org/workload\nHint:       internal\nExpires:    2030-01-01T01:00:00Z\n\nBundles:    example.org, federated.test\n",
            result.Out);
    }

    [Fact]
    public async Task FetchX509_Json_ListsSvidsAndBundles()
    {
        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", _server.SocketPath, "--output", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("spiffe://example.org/workload", json.RootElement.GetProperty("svids")[0].GetProperty("spiffeId").GetString());
        Assert.Equal(["example.org", "federated.test"], json.RootElement.GetProperty("bundles").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task FetchX509_SocketFromEnvironment_IsUsed()
    {
        var previous = Environment.GetEnvironmentVariable("SPIFFE_ENDPOINT_SOCKET");
        try
        {
            Environment.SetEnvironmentVariable("SPIFFE_ENDPOINT_SOCKET", _server.Address);
            var result = await RunAsync("agent", "api", "fetch", "x509");
            Assert.Equal(0, result.ExitCode);
            Assert.StartsWith("SPIFFE ID:  spiffe://example.org/workload", result.Out);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SPIFFE_ENDPOINT_SOCKET", previous);
        }
    }

    [Fact]
    public async Task FetchX509_NoServerAtSocket_ExitsOneWithOneLine()
    {
        var missing = Path.Combine(_server.Dir, "missing.sock");

        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", missing);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: cannot reach the workload api at unix://{missing}\n", result.Error);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task FetchX509_MalformedSocketAddress_ExitsTwoNamingTheRule()
    {
        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", "tcp://localhost:8000");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: --socket: tcp workload api address host must be an ip address\n", result.Error);
    }

    [Fact]
    public async Task FetchX509_CallerHasNoIdentity_ExitsOneRejected()
    {
        _server.Provider.Fail(StatusCode.PermissionDenied);

        var result = await RunAsync("agent", "api", "fetch", "x509", "--socket", _server.SocketPath);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("rejected: the workload api has no identity for this process\n", result.Error);
    }

    [Fact]
    public async Task FetchJwt_Audience_PrintsTokenThatVerifies()
    {
        var result = await RunAsync("agent", "api", "fetch", "jwt", "--socket", _server.SocketPath, "--audience", "db", "--spiffe-id", "spiffe://example.org/workload");

        Assert.Equal(0, result.ExitCode);
        var token = result.Out.TrimEnd('\n');
        Assert.DoesNotContain('\n', token);
        var bundle = new JwtBundle(_server.Ca.TrustDomain, [_server.Provider.JwtKey.ToAuthority()]);
        Assert.Equal("spiffe://example.org/workload", new JwtSvidValidator(_server.Time).Validate(token, "db", bundle).Id.ToString());
    }

    [Fact]
    public async Task FetchJwtBundles_PrintsKeyIdsPerTrustDomain()
    {
        var result = await RunAsync("agent", "api", "fetch", "jwt-bundles", "--socket", _server.SocketPath);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("spiffe://example.org  keys: jwt-1\n", result.Out);
    }

    [Fact]
    public async Task ValidateJwt_ValidThenWrongAudience_PrintsIdThenExitsOne()
    {
        var token = (await RunAsync("agent", "api", "fetch", "jwt", "--socket", _server.SocketPath, "--audience", "db")).Out.Trim();

        var valid = await RunAsync("agent", "api", "validate", "jwt", "--socket", _server.SocketPath, "--audience", "db", "--token", token);
        var invalid = await RunAsync("agent", "api", "validate", "jwt", "--socket", _server.SocketPath, "--audience", "other", "--token", token);

        Assert.Equal(0, valid.ExitCode);
        Assert.StartsWith("SPIFFE ID:  spiffe://example.org/workload\nClaims:\n", valid.Out);
        Assert.Contains("\"sub\": \"spiffe://example.org/workload\"", valid.Out);
        Assert.Equal(1, invalid.ExitCode);
        Assert.StartsWith("rejected: ", invalid.Error);
        Assert.Single(invalid.Error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain(token, invalid.Error);
    }

    [Fact]
    public async Task Healthcheck_ServingThenStopped_ExitsZeroThenOne()
    {
        var serving = await RunAsync("agent", "healthcheck", "--socket", _server.SocketPath);
        await _server.StopAsync();
        var stopped = await RunAsync("agent", "healthcheck", "--socket", _server.SocketPath);

        Assert.True(serving.ExitCode == 0, serving.Error);
        Assert.Equal("healthy\n", serving.Out);
        Assert.Equal(1, stopped.ExitCode);
        Assert.Equal($"error: cannot reach the workload api at unix://{_server.SocketPath}\n", stopped.Error);
    }

    [Fact]
    public async Task Watch_Rotation_PrintsALinePerUpdateUntilCancelled()
    {
        using var output = new LineWriter();
        using var error = new StringWriter();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = CliApp.RunAsync(["agent", "api", "watch", "--socket", _server.SocketPath], new CliContext(output, error, _server.Time), cts.Token);

        var first = await output.Lines.Reader.ReadAsync(cts.Token);
        _server.Provider.Update([_server.IssueSvid("/rotated")], _server.Bundles());
        var second = await output.Lines.Reader.ReadAsync(cts.Token);
        await cts.CancelAsync();

        Assert.Equal(0, await run);
        Assert.Equal("2030-01-01T00:00:00Z spiffe://example.org/workload expires=2030-01-01T01:00:00Z svids=1 bundles=example.org,federated.test", first);
        Assert.Contains(" spiffe://example.org/rotated ", second);
        Assert.Equal(string.Empty, error.ToString());
    }

    /// <summary>Hands each written line to the test as it is written.</summary>
    private sealed class LineWriter : StringWriter
    {
        public Channel<string> Lines { get; } = Channel.CreateUnbounded<string>();

        public override Task WriteLineAsync(string? value)
        {
            Lines.Writer.TryWrite(value ?? string.Empty);
            return Task.CompletedTask;
        }
    }
}
