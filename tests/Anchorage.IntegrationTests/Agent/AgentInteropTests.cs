using System.Security.Cryptography;
using System.Text.Json;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Agent;

/// <summary>
/// Independent clients against the running agent (issue 4, item 8): npm's @grpc/grpc-js and
/// @grpc/proto-loader speak the Workload API over the agent's unix socket, jose verifies the
/// JWT-SVIDs with the JWKS the agent serves, and the openssl CLI verifies the X.509-SVIDs.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AgentInteropTests
{
    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_GrpcJsClient_OpenSslVerifiesChainWithReceivedBundle()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/node-client", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token);

        var json = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509");

        Assert.True(json.GetProperty("ok").GetBoolean(), json.ToString());
        var svid = Assert.Single(json.GetProperty("svids").EnumerateArray().ToList());
        Assert.Equal("spiffe://acme.corp/node-client", svid.GetProperty("spiffeId").GetString());
        using var openssl = new OpenSsl();
        var chain = CertificateChain.Parse(Convert.FromBase64String(svid.GetProperty("chain").GetString()!));
        var bundle = CertificateChain.Parse(Convert.FromBase64String(svid.GetProperty("bundle").GetString()!));
        openssl.WriteFile("leaf.pem", Pem(chain.Take(1)));
        openssl.WriteFile("bundle.pem", Pem(bundle));
        string[] untrusted = chain.Count > 1 ? ["-untrusted", openssl.WriteFile("intermediates.pem", Pem(chain.Skip(1)))] : [];

        var verify = openssl.TryRun(["verify", "-CAfile", openssl.PathOf("bundle.pem"), .. untrusted, openssl.PathOf("leaf.pem")]);
        Assert.True(verify.ExitCode == 0, verify.StandardError + verify.StandardOutput);

        // Negative control on the same leaf: a bundle of another CA does not verify it.
        openssl.Run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=other", "-days", "1");
        var other = openssl.TryRun(["verify", "-CAfile", openssl.PathOf("other.pem"), .. untrusted, openssl.PathOf("leaf.pem")]);
        Assert.NotEqual(0, other.ExitCode);

        // The PKCS#8 key the client received belongs to the leaf.
        openssl.WriteFile("key.der", Convert.FromBase64String(svid.GetProperty("key").GetString()!));
        var keyPub = openssl.Run("pkey", "-inform", "DER", "-in", openssl.PathOf("key.der"), "-pubout").StandardOutput;
        var leafPub = openssl.Run("x509", "-in", openssl.PathOf("leaf.pem"), "-noout", "-pubkey").StandardOutput;
        Assert.Equal(leafPub, keyPub);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.3")]
    public async Task FetchJwtSvid_GrpcJsClient_JoseVerifiesTokenWithServedJwks_ValidateAcceptsItAndRejectsTampered()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/node-client", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token);

        var jwt = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "jwt", "payments");

        Assert.True(jwt.GetProperty("ok").GetBoolean(), jwt.ToString());
        Assert.Equal("spiffe://acme.corp/node-client", jwt.GetProperty("sub").GetString());
        Assert.Equal("spiffe://acme.corp/node-client", jwt.GetProperty("spiffeId").GetString());
        var svid = jwt.GetProperty("token").GetString()!;

        var valid = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "validate", "payments", svid);
        Assert.True(valid.GetProperty("ok").GetBoolean(), valid.ToString());
        Assert.Equal("spiffe://acme.corp/node-client", valid.GetProperty("spiffeId").GetString());

        var tampered = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "validate", "payments", Tamper(svid));
        Assert.False(tampered.GetProperty("ok").GetBoolean(), tampered.ToString());
        Assert.Equal(3, tampered.GetProperty("code").GetInt32());

        // The same valid token for another audience is refused too: the validation is not a no-op.
        var wrongAudience = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "validate", "other", svid);
        Assert.Equal(3, wrongAudience.GetProperty("code").GetInt32());
    }

    [Fact]
    [Trait("Spec", "Workload Endpoint security header")]
    public async Task FetchX509Svid_GrpcJsClientWithoutHeader_InvalidArgument()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/node-client", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token);

        var without = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509", "--no-header");
        var with = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509");

        Assert.False(without.GetProperty("ok").GetBoolean(), without.ToString());
        Assert.Equal(3, without.GetProperty("code").GetInt32());
        Assert.True(with.GetProperty("ok").GetBoolean(), with.ToString());
    }

    [RootFact(setpriv: true)]
    public async Task FetchX509Svid_GrpcJsClientUnderUidWithoutEntry_PermissionDenied()
    {
        await using var server = await TestServer.StartAsync();
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, "/node-client", $"unix:uid:{TestServer.OwnUid()}");
        await using var agent = await TestAgent.StartAsync(server, token);
        NodeAgentClient.MakeTraversable(Path.GetDirectoryName(agent.Socket)!);

        var nobody = await NodeAgentClient.RunAsync(agent.Socket, asNobody: true, "x509");
        var nobodyJwt = await NodeAgentClient.RunAsync(agent.Socket, asNobody: true, "jwt", "payments");
        var own = await NodeAgentClient.RunAsync(agent.Socket, asNobody: false, "x509");

        Assert.False(nobody.GetProperty("ok").GetBoolean(), nobody.ToString());
        Assert.Equal(7, nobody.GetProperty("code").GetInt32());
        Assert.Equal(7, nobodyJwt.GetProperty("code").GetInt32());
        Assert.True(own.GetProperty("ok").GetBoolean(), own.ToString());

        // And once an entry names uid 65534, the very same setpriv'd client is served.
        await NodeParts.EntryAsync(server, agentId, "/nobody", $"unix:uid:{NodeAgentClient.Nobody}");
        await agent.Agent.Sync.SyncOnceAsync(CancellationToken.None);
        var served = await NodeAgentClient.RunAsync(agent.Socket, asNobody: true, "x509");
        Assert.True(served.GetProperty("ok").GetBoolean(), served.ToString());
        Assert.Equal("spiffe://acme.corp/nobody", Assert.Single(served.GetProperty("svids").EnumerateArray().ToList()).GetProperty("spiffeId").GetString());
    }

    private static string Pem(IEnumerable<System.Security.Cryptography.X509Certificates.X509Certificate2> certificates) =>
        string.Concat(certificates.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n"));

    // Flips one character in the middle of the signature (a middle character changes decoded bits).
    private static string Tamper(string token)
    {
        var at = token.LastIndexOf('.') + ((token.Length - token.LastIndexOf('.')) / 2);
        var chars = token.ToCharArray();
        chars[at] = chars[at] == 'A' ? 'B' : 'A';
        return new string(chars);
    }
}
