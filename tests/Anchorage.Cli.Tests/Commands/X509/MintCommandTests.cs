using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Common.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Testing;
using Anchorage.Testing.X509;
using Google.Protobuf;
using Grpc.Core;
using ProtoBundle = Anchorage.Protos.Common.V1.Bundle;

namespace Anchorage.Cli.Tests.Commands.X509;

// key.pem permissions are a unix notion; Anchorage runs on Linux.
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class MintCommandTests : AdminTestBase, IDisposable
{
    private const string Web = "spiffe://acme.corp/web";
    private readonly TempDir _dir = new();
    private readonly TestCa _root = TestCa.CreateRoot("acme.corp");
    private readonly TestCa _intermediate;
    private CertificateRequest? _csr;

    public MintCommandTests() => _intermediate = _root.CreateIntermediate();

    public void Dispose() => _dir.Dispose();

    /// <summary>Signs the CSR the CLI sent with the intermediate, as the server would.</summary>
    private void SignLikeTheServer() => Api.On("MintX509Svid", (MintX509SvidRequest r) =>
    {
        // Loading checks the CSR's signature: the CLI proved possession of the key.
        _csr = CertificateRequest.LoadSigningRequest(
            r.Csr.ToByteArray(), HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        using var leaf = _csr.Create(
            _intermediate.Certificate.SubjectName,
            X509SignatureGenerator.CreateForECDsa((ECDsa)_intermediate.Key),
            TestClock.Now.AddMinutes(-1),
            TestClock.Now.AddHours(1),
            [1, 2, 3]);
        var bundle = new SpiffeBundle(_root.TrustDomain, [_root.Certificate], []);
        return new MintX509SvidResponse
        {
            Svid = new X509Svid
            {
                SpiffeId = r.SpiffeId,
                CertChain = { ByteString.CopyFrom(leaf.RawData), ByteString.CopyFrom(_intermediate.Certificate.RawData) },
            },
            Bundle = new ProtoBundle { TrustDomain = "acme.corp", SpiffeBundleJson = ByteString.CopyFrom(bundle.ToUtf8Json()) },
        };
    });

    [Fact]
    public async Task Mint_Write_WritesChainOwnerOnlyKeyAndBundle()
    {
        SignLikeTheServer();
        var dir = Path.Combine(_dir.Path, "out");

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web, "--ttl", "1h", "--dns", "web.acme.corp", "--write", dir);

        Assert.Equal((0, $"wrote svid.pem, key.pem and bundle.pem for {Web} to {dir}\n", string.Empty), (result.ExitCode, result.Out, result.Error));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "key.pem")));

        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(Path.Combine(dir, "svid.pem"));
        Assert.Equal(2, chain.Count);
        Assert.Equal(_intermediate.Certificate.Thumbprint, chain[1].Thumbprint);

        // The key on disk is the key of the leaf (leaf first in svid.pem).
        using var withKey = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "svid.pem"), Path.Combine(dir, "key.pem"));
        Assert.True(withKey.HasPrivateKey);
        Assert.Equal(chain[0].Thumbprint, withKey.Thumbprint);
        using var key = withKey.GetECDsaPrivateKey();
        Assert.Equal(256, key!.KeySize);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(dir, "key.pem")), StringComparison.Ordinal);

        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(Path.Combine(dir, "bundle.pem"));
        Assert.Equal(_root.Certificate.Thumbprint, Assert.Single(bundle).Thumbprint);
    }

    [Fact]
    public async Task Mint_WriteOverLooseKeyFile_TightensItToOwnerOnly()
    {
        SignLikeTheServer();
        var keyPath = Path.Combine(_dir.Path, "key.pem");
        File.WriteAllText(keyPath, "old");
        File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web, "--write", _dir.Path);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(keyPath), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mint_WriteIntoAttackerPreparedDirectory_LinksReplacedNotFollowedPreOpenedFileGetsNoKey()
    {
        SignLikeTheServer();
        var victim = Path.Combine(_dir.Path, "victim");
        File.WriteAllText(victim, "root-owned");
        var dir = Directory.CreateDirectory(Path.Combine(_dir.Path, "out")).FullName;
        File.CreateSymbolicLink(Path.Combine(dir, "svid.pem"), victim);
        File.CreateSymbolicLink(Path.Combine(dir, "bundle.pem"), victim);
        var keyPath = Path.Combine(dir, "key.pem");
        File.WriteAllText(keyPath, "old");
        File.SetUnixFileMode(keyPath, (UnixFileMode)0b110_110_110);
        using var attacker = new FileStream(keyPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web, "--write", dir);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("root-owned", File.ReadAllText(victim));
        Assert.Null(new FileInfo(Path.Combine(dir, "svid.pem")).LinkTarget);
        Assert.Null(new FileInfo(Path.Combine(dir, "bundle.pem")).LinkTarget);
        using (var reader = new StreamReader(attacker))
        {
            Assert.Equal("old", reader.ReadToEnd());
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        using var withKey = X509Certificate2.CreateFromPemFile(Path.Combine(dir, "svid.pem"), keyPath);
        Assert.True(withKey.HasPrivateKey);
    }

    [Fact]
    public async Task Mint_WriteIntoDirectoryOthersCanWrite_ExitsTwoAndWritesNothing()
    {
        SignLikeTheServer();
        var dir = Directory.CreateDirectory(Path.Combine(_dir.Path, "open")).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web, "--write", dir);

        Assert.Equal(
            (2, string.Empty, $"error: refusing to write into \"{dir}\": it is writable by other users (mode 0777) and not a sticky directory owned by you; use a directory only you can write\n"),
            (result.ExitCode, result.Out, result.Error));
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [Fact]
    public async Task Mint_Flags_MapToTheRequestAndTheCsr()
    {
        SignLikeTheServer();

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web, "--ttl", "90m", "--dns", "web.acme.corp", "--dns", "api.acme.corp");

        Assert.Equal(0, result.ExitCode);
        var request = Api.Only<MintX509SvidRequest>("MintX509Svid");
        Assert.Equal((Web, 5400L), (request.SpiffeId, request.TtlSeconds));
        Assert.Equal(["web.acme.corp", "api.acme.corp"], request.DnsNames);
        var san = Assert.Single(_csr!.CertificateExtensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["web.acme.corp", "api.acme.corp"], san.EnumerateDnsNames());
        Assert.Contains("URI:" + Web, san.Format(false).Replace("URL=", "URI:", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.IsAssignableFrom<ECDsa>(_csr.PublicKey.GetECDsaPublicKey());
    }

    [Fact]
    public async Task Mint_NoWrite_PrintsChainThenKey()
    {
        SignLikeTheServer();

        var result = await RunAsync("x509", "mint", "--spiffe-id", Web);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(result.Out);
        Assert.Equal(2, chain.Count);
        using var withKey = X509Certificate2.CreateFromPem(result.Out, result.Out);
        Assert.Equal(chain[0].Thumbprint, withKey.Thumbprint);
        Assert.True(result.Out.IndexOf("BEGIN CERTIFICATE", StringComparison.Ordinal) < result.Out.IndexOf("BEGIN PRIVATE KEY", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mint_ServerRefusesTheId_ExitsOneAndWritesNothing()
    {
        Api.Fail("MintX509Svid", StatusCode.InvalidArgument, "spiffe://other.example/web is not in trust domain acme.corp");
        var dir = Path.Combine(_dir.Path, "out");

        var result = await RunAsync("x509", "mint", "--spiffe-id", "spiffe://other.example/web", "--write", dir);

        Assert.Equal((1, string.Empty, "error: spiffe://other.example/web is not in trust domain acme.corp\n"), (result.ExitCode, result.Out, result.Error));
        Assert.False(Directory.Exists(dir));
    }

    [Theory]
    [InlineData("--spiffe-id", "acme.corp/web", "error: --spiffe-id \"acme.corp/web\": scheme must be \"spiffe\" followed by \"://\"\n")]
    [InlineData("--ttl", "forever", "error: --ttl \"forever\": not a duration such as 90s, 5m, 1h30m or 7d\n")]
    [InlineData("--dns", "web..acme", "error: --dns \"web..acme\": not a DNS name\n")]
    public async Task Mint_BadFlag_ExitsTwoAndSendsNothing(string flag, string value, string error)
    {
        SignLikeTheServer();
        string[] args = flag == "--spiffe-id" ? ["x509", "mint", flag, value] : ["x509", "mint", "--spiffe-id", Web, flag, value];

        var result = await RunAsync(args);

        Assert.Equal((2, error), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }
}
