using Anchorage.Foundation.Config;
using Anchorage.Server.Config;

namespace Anchorage.Server.Tests.Config;

/// <summary><c>console: { listen, servingCert, sessionTtl }</c> (issue 16).</summary>
public sealed class ServerConfigLoaderConsoleTests
{
    [Fact]
    public void Parse_NoConsoleKey_ConsoleOff()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        Assert.Null(result.Value.Console);
    }

    [Fact]
    public void Parse_LoopbackWithoutCert_PlainHttpDefaultSessionTtl()
    {
        var result = ServerConfigLoader.Parse("trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8444\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        Assert.Equal(new HostPort("127.0.0.1", 8444), result.Value.Console!.Listen);
        Assert.False(result.Value.Console.UsesTls);
        Assert.Equal(TimeSpan.FromHours(1), result.Value.Console.SessionTtl);
    }

    [Theory]
    [InlineData("localhost:8444")]
    [InlineData("'[::1]:8444'")]
    public void Parse_OtherLoopbackForms_Accepted(string listen)
    {
        var result = ServerConfigLoader.Parse($"trustDomain: acme.corp\nconsole:\n  listen: {listen}\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        Assert.NotNull(result.Value.Console);
    }

    [Fact]
    public void Parse_NonLoopbackWithCert_HttpsEveryKeyRead()
    {
        var result = ServerConfigLoader.Parse(
            "trustDomain: acme.corp\nconsole:\n  listen: 0.0.0.0:8444\n  servingCert: { certFile: /etc/c.crt, keyFile: /etc/c.key }\n  sessionTtl: 8h\n");

        Assert.True(result.IsValid, string.Join('\n', result.ErrorLines));
        var console = result.Value.Console!;
        Assert.True(console.UsesTls);
        Assert.Equal(("/etc/c.crt", "/etc/c.key"), (console.ServingCert!.CertFile, console.ServingCert.KeyFile));
        Assert.Equal(TimeSpan.FromHours(8), console.SessionTtl);
    }

    public static TheoryData<string, string[]> Invalid => new()
    {
        {
            "trustDomain: acme.corp\nconsole:\n  listen: 0.0.0.0:8444\n",
            ["server.yaml:3: console.servingCert: required when listen is not a loopback address (0.0.0.0:8444): the console serves https only off loopback"]
        },
        {
            "trustDomain: acme.corp\nconsole:\n  listen: 10.1.2.3:8444\n",
            ["server.yaml:3: console.servingCert: required when listen is not a loopback address (10.1.2.3:8444): the console serves https only off loopback"]
        },
        { "trustDomain: acme.corp\nconsole: {}\n", ["server.yaml:2: console.listen: required"] },
        { "trustDomain: acme.corp\nconsole: 8444\n", ["server.yaml:2: console: must be a mapping of settings"] },
        { "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8080\n", ["server.yaml:3: console.listen: must differ from listen.health"] },
        { "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8081\n", ["server.yaml:3: console.listen: must differ from listen.agentApi"] },
        {
            "trustDomain: acme.corp\nfederation:\n  bundleEndpoint: { listen: 0.0.0.0:8443, profile: https_spiffe }\nconsole:\n  listen: 127.0.0.1:8443\n",
            ["server.yaml:5: console.listen: must differ from federation.bundleEndpoint.listen"]
        },
        { "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8444\n  sessionTtl: 2d\n", ["server.yaml:4: console.sessionTtl: must be at most 1d"] },
        { "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8444\n  sessionTtl: 0s\n", ["server.yaml:4: console.sessionTtl: must be longer than 0s"] },
        {
            "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8444\n  servingCert: { certFile: c.crt }\n",
            ["server.yaml:4: console.servingCert.certFile: \"c.crt\" must be an absolute path", "server.yaml:4: console.servingCert.keyFile: required"]
        },
        { "trustDomain: acme.corp\nconsole:\n  listen: 127.0.0.1:8444\n  tls: true\n", ["server.yaml:4: console.tls: unknown setting"] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_InvalidConsole_EveryErrorWithKeyPath(string yaml, string[] expected)
    {
        var result = ServerConfigLoader.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Equal(expected, result.ErrorLines);
    }
}
