using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Anchorage.IntegrationTests.Agent;
using Anchorage.Server.Config;
using Anchorage.Testing;
using Anchorage.Testing.Sockets;

namespace Anchorage.IntegrationTests.Sdk;

/// <summary>
/// The SDK samples (samples/AspNetCoreMtls, AspNetCoreJwt, HttpClientCaller) as separate processes
/// against a real server and agent: each gets its identity from the agent by its executable path.
/// An intruder is the same caller binary copied elsewhere: same code, another identity.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class SampleAppsTests
{
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("Category", "Slow")]
    public async Task AspNetCoreMtls_CallerOverHttpClient_ServedThroughRotation_ZeroFailures_IntruderOfSameDomainGets403()
    {
        using var serverDir = new TempDir();
        var options = TestServer.Options(serverDir.Path) with
        {
            // Short SVIDs: the agent renews them at half life, so a minute of traffic spans a rotation.
            Ca = new CaOptions { CaTtl = TimeSpan.FromMinutes(15), X509SvidTtl = TimeSpan.FromMinutes(1) },
        };
        await using var server = await TestServer.StartAsync(options);
        using var copies = new TempDir();
        var serverExe = SampleApp.Executable("AspNetCoreMtls");
        var callerExe = SampleApp.Executable("HttpClientCaller");
        var intruderExe = SampleApp.CopyOf("HttpClientCaller", copies.Path);
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/sample/server", "unix:path:" + serverExe);
        await NodeParts.EntryAsync(server, agentId, "/sample/caller", "unix:path:" + callerExe);
        await NodeParts.EntryAsync(server, agentId, "/sample/intruder", "unix:path:" + intruderExe);
        await using var agent = await TestAgent.StartAsync(server, token);

        var port = LoopbackPort.Unused();
        using var app = SampleApp.Start(serverExe, agent.Socket, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "spiffe://acme.corp/sample/caller");
        await app.WaitForOutputAsync("serving as spiffe://acme.corp/sample/server", Startup);
        var url = $"https://127.0.0.1:{port}/hello";

        using var intruder = SampleApp.Start(intruderExe, agent.Socket, "mtls", url, "spiffe://acme.corp/sample/server", "0");
        using var caller = SampleApp.Start(callerExe, agent.Socket, "mtls", url, "spiffe://acme.corp/sample/server", "75");
        var intruderExit = await intruder.WaitForExitAsync(Startup);
        var callerExit = await caller.WaitForExitAsync(TimeSpan.FromSeconds(150));

        // The intruder holds a valid SVID of the same trust domain, so the handshake passes the
        // listener's trust-domain authorizer, and the endpoint's RequireSpiffeId answers 403.
        Assert.Equal(1, intruderExit);
        Assert.Contains("refused: 403", intruder.Output);
        Assert.Contains("summary ok=0 failed=1", intruder.Output);

        Assert.True(callerExit == 0, caller.Output);
        Assert.Matches(@"summary ok=\d+ failed=0", caller.Output);
        var serials = Serial().Matches(caller.Output).Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.True(serials.Count >= 2, "the caller's SVID did not rotate during the traffic:\n" + caller.Output);
        Assert.Contains("I am spiffe://acme.corp/sample/server", caller.Output);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task AspNetCoreMtls_CallerOfAnotherTrustDomainAuthorizer_RefusedInHandshake()
    {
        await using var server = await TestServer.StartAsync();
        var serverExe = SampleApp.Executable("AspNetCoreMtls");
        var callerExe = SampleApp.Executable("HttpClientCaller");
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/sample/server", "unix:path:" + serverExe);
        await NodeParts.EntryAsync(server, agentId, "/sample/caller", "unix:path:" + callerExe);
        await using var agent = await TestAgent.StartAsync(server, token);

        // The server allows callers of payments.test only: its Kestrel authorizer refuses ours at the handshake.
        var port = LoopbackPort.Unused();
        using var app = SampleApp.Start(serverExe, agent.Socket, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "spiffe://payments.test/caller");
        await app.WaitForOutputAsync("serving as spiffe://acme.corp/sample/server", Startup);
        using var caller = SampleApp.Start(callerExe, agent.Socket, "mtls", $"https://127.0.0.1:{port}/hello", "spiffe://acme.corp/sample/server", "0");

        Assert.Equal(1, await caller.WaitForExitAsync(Startup));
        Assert.Contains("failed: ", caller.Output);
        Assert.Contains("summary ok=0 failed=1", caller.Output);
        await WaitForAsync(() => app.Output.Contains("refused client spiffe://acme.corp/sample/caller", StringComparison.Ordinal), app);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task AspNetCoreJwt_CallerWithJwtSvid_Served_IntruderGets403_WrongAudienceGets401()
    {
        await using var server = await TestServer.StartAsync();
        using var copies = new TempDir();
        var serverExe = SampleApp.Executable("AspNetCoreJwt");
        var callerExe = SampleApp.Executable("HttpClientCaller");
        var intruderExe = SampleApp.CopyOf("HttpClientCaller", copies.Path);
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/sample/jwt-server", "unix:path:" + serverExe);
        await NodeParts.EntryAsync(server, agentId, "/sample/caller", "unix:path:" + callerExe);
        await NodeParts.EntryAsync(server, agentId, "/sample/intruder", "unix:path:" + intruderExe);
        await using var agent = await TestAgent.StartAsync(server, token);

        var port = LoopbackPort.Unused();
        const string Audience = "spiffe://acme.corp/sample/jwt-server";
        using var app = SampleApp.Start(serverExe, agent.Socket, port.ToString(System.Globalization.CultureInfo.InvariantCulture), Audience, "spiffe://acme.corp/sample/caller");
        await app.WaitForOutputAsync("serving JWT-SVID audience", Startup);
        var url = $"http://127.0.0.1:{port}/hello";

        using var caller = SampleApp.Start(callerExe, agent.Socket, "jwt", url, Audience, "0");
        using var intruder = SampleApp.Start(intruderExe, agent.Socket, "jwt", url, Audience, "0");
        using var wrongAudience = SampleApp.Start(callerExe, agent.Socket, "jwt", url, "spiffe://acme.corp/elsewhere", "0");

        Assert.True(await caller.WaitForExitAsync(Startup) == 0, caller.Output);
        Assert.Contains("hello spiffe://acme.corp/sample/caller", caller.Output);
        Assert.Equal(1, await intruder.WaitForExitAsync(Startup));
        Assert.Contains("refused: 403", intruder.Output);
        Assert.Equal(1, await wrongAudience.WaitForExitAsync(Startup));
        Assert.Contains("refused: 401", wrongAudience.Output);
    }

    private static Task<TimeSpan> WaitForAsync(Func<bool> condition, SampleApp app) =>
        Eventually.TrueAsync(() => Task.FromResult(condition()), () => "the condition; server output:\n" + app.Output, Startup, TimeSpan.FromMilliseconds(50));

    [GeneratedRegex(@"\(certificate ([0-9A-F]+)\)")]
    private static partial Regex Serial();
}
