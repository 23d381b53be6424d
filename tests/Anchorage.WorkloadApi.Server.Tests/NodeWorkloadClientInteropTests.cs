using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.WorkloadApi.Server.Tests;

/// <summary>
/// An independent client (npm's @grpc/grpc-js loading proto/workload.proto) fetches an X.509-SVID
/// over the Unix socket; the independent openssl CLI then verifies what it received.
/// </summary>
public sealed class NodeWorkloadClientInteropTests
{
    [Fact]
    [Trait("Category", "Slow")]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_GrpcJsClient_SvidVerifiesWithOpenSslAgainstReceivedBundle()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var intermediate = host.Ca.CreateIntermediate();
        var leaf = intermediate.IssueLeaf(new TestLeafOptions { Path = "/node" });
        host.Provider.Update([new X509Svid(leaf.Chain, leaf.Key, "node")], host.Bundles());

        using var json = JsonDocument.Parse(await RunClientAsync(host.SocketPath));

        var root = json.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean(), root.ToString());
        var svid = Assert.Single(root.GetProperty("svids").EnumerateArray().ToList());
        Assert.Equal("spiffe://example.org/node", svid.GetProperty("spiffeId").GetString());
        Assert.Equal("node", svid.GetProperty("hint").GetString());
        Assert.Equal("spiffe://federated.test", Assert.Single(root.GetProperty("federatedBundles").EnumerateObject().ToList()).Name);

        using var openssl = new OpenSsl();
        var chain = CertificateChain.Parse(Convert.FromBase64String(svid.GetProperty("chain").GetString()!));
        var bundle = CertificateChain.Parse(Convert.FromBase64String(svid.GetProperty("bundle").GetString()!));
        Assert.Equal(2, chain.Count);
        openssl.WriteFile("leaf.pem", PemEncoding.WriteString("CERTIFICATE", chain[0].RawData) + "\n");
        openssl.WriteFile("untrusted.pem", string.Concat(chain.Skip(1).Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n")));
        openssl.WriteFile("bundle.pem", string.Concat(bundle.Select(c => PemEncoding.WriteString("CERTIFICATE", c.RawData) + "\n")));
        openssl.WriteFile("key.der", Convert.FromBase64String(svid.GetProperty("key").GetString()!));
        var at = TestClock.Now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var verify = openssl.TryRun("verify", "-attime", at, "-CAfile", openssl.PathOf("bundle.pem"), "-untrusted", openssl.PathOf("untrusted.pem"), openssl.PathOf("leaf.pem"));
        Assert.True(verify.ExitCode == 0, verify.StandardError + verify.StandardOutput);

        // Negative control on the same files: without the received intermediate the chain breaks.
        var broken = openssl.TryRun("verify", "-attime", at, "-CAfile", openssl.PathOf("bundle.pem"), openssl.PathOf("leaf.pem"));
        Assert.NotEqual(0, broken.ExitCode);

        // The PKCS#8 key is the leaf's key.
        var keyPub = openssl.Run("pkey", "-inform", "DER", "-in", openssl.PathOf("key.der"), "-pubout").StandardOutput;
        var leafPub = openssl.Run("x509", "-in", openssl.PathOf("leaf.pem"), "-noout", "-pubkey").StandardOutput;
        Assert.Equal(leafPub, keyPub);
    }

    [Fact]
    [Trait("Category", "Slow")]
    [Trait("Spec", "Workload Endpoint security header")]
    public async Task FetchX509Svid_GrpcJsClientWithoutHeader_InvalidArgument()
    {
        await using var host = await WorkloadApiHost.StartAsync();

        using var json = JsonDocument.Parse(await RunClientAsync(host.SocketPath, "--no-header"));

        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(3, json.RootElement.GetProperty("code").GetInt32());
        Assert.Equal("request must carry metadata workload.spiffe.io: true", json.RootElement.GetProperty("details").GetString());
    }

    private static Task<string> RunClientAsync(string socketPath, params string[] extra)
    {
        var dir = Path.Combine(Processes.RepoRoot(), "tests", "interop", "node");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@grpc", "grpc-js")))
        {
            Assert.Fail("npm's @grpc/grpc-js is not installed for the interop tests: run `npm ci --prefix tests/interop/node` from the repository root");
        }

        // The client blocks on the socket while the server runs in this process: run it off the test thread.
        return Task.Run(() => Processes.Run("node", [Path.Combine(dir, "workload-client.mjs"), socketPath, .. extra]));
    }
}
