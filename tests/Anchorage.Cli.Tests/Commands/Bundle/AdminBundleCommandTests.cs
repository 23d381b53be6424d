using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Bundles;
using Anchorage.Testing;
using Anchorage.Testing.X509;
using Google.Protobuf;
using Grpc.Core;
using ProtoBundle = Anchorage.Protos.Common.V1.Bundle;

namespace Anchorage.Cli.Tests.Commands.Bundle;

/// <summary>The bundle verbs that talk to the server: show, list, set, delete.</summary>
public sealed class AdminBundleCommandTests : AdminTestBase, IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestCa _ca = TestCa.CreateRoot("acme.corp");
    private readonly ECDsa _jwtKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly byte[] _json;

    public AdminBundleCommandTests() =>
        _json = new SpiffeBundle(_ca.TrustDomain, [_ca.Certificate], [JwtAuthority.FromKey("k1", _jwtKey)], sequenceNumber: 3).ToUtf8Json();

    public void Dispose()
    {
        _jwtKey.Dispose();
        _dir.Dispose();
    }

    private ProtoBundle Own => new() { TrustDomain = "acme.corp", SpiffeBundleJson = ByteString.CopyFrom(_json), Sequence = 3, UpdatedAt = 1_763_800_000 };

    [Fact]
    public async Task Show_Default_PrintsTheX509AuthoritiesAsPem()
    {
        Api.On("GetBundle", (GetBundleRequest _) => Own);

        var result = await RunAsync("bundle", "show");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var certs = new X509Certificate2Collection();
        certs.ImportFromPem(result.Out);
        Assert.Equal(_ca.Certificate.Thumbprint, Assert.Single(certs).Thumbprint);
    }

    [Fact]
    public async Task Show_Spiffe_PrintsTheServersJsonAsIs()
    {
        Api.On("GetBundle", (GetBundleRequest _) => Own);

        var result = await RunAsync("bundle", "show", "--format", "spiffe");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Encoding.UTF8.GetString(_json).TrimEnd() + "\n", result.Out);
    }

    [Fact]
    public async Task Show_OnlyJwtAuthorities_WarnsThatThePemIsEmpty()
    {
        var jwtOnly = new SpiffeBundle(_ca.TrustDomain, [], [JwtAuthority.FromKey("k1", _jwtKey)]).ToUtf8Json();
        Api.On("GetBundle", (GetBundleRequest _) => new ProtoBundle { TrustDomain = "acme.corp", SpiffeBundleJson = ByteString.CopyFrom(jwtOnly) });

        var result = await RunAsync("bundle", "show");

        Assert.Equal((0, string.Empty, "warning: the bundle of acme.corp has no X.509 authorities\n"), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Show_ServerSendsGarbage_ExitsTwo()
    {
        Api.On("GetBundle", (GetBundleRequest _) => new ProtoBundle { TrustDomain = "acme.corp", SpiffeBundleJson = ByteString.CopyFromUtf8("{\"keys\":") });

        var result = await RunAsync("bundle", "show");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: the server sent a malformed bundle for acme.corp: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_Table_CountsAuthoritiesPerTrustDomain()
    {
        Api.On("ListBundles", (ListBundlesRequest _) => new ListBundlesResponse
        {
            Bundles = { Own, new ProtoBundle { TrustDomain = "partner.example", SpiffeBundleJson = ByteString.CopyFromUtf8("not json"), Sequence = 9 } },
        });

        var result = await RunAsync("bundle", "list");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.Split('\n');
        Assert.Contains(lines, l => l.Contains("TRUST DOMAIN", StringComparison.Ordinal) && l.Contains("X509 AUTHORITIES", StringComparison.Ordinal));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"acme\.corp\s+│\s+3\s+│\s+1\s+│\s+1\s+│\s+2025-11-22T08:26:40Z"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"partner\.example\s+│\s+9\s+│\s+\?\s+│\s+\?\s+│\s+-"));
    }

    [Fact]
    public async Task List_Json_IsTheResponseMessage()
    {
        Api.On("ListBundles", (ListBundlesRequest _) => new ListBundlesResponse { Bundles = { Own } });

        var result = await RunAsync("bundle", "list", "--output", "json");

        using var json = JsonDocument.Parse(result.Out);
        var bundle = Assert.Single(json.RootElement.GetProperty("bundles").EnumerateArray().ToArray());
        Assert.Equal(("acme.corp", "3"), (bundle.GetProperty("trustDomain").GetString(), bundle.GetProperty("sequence").GetString()));
        Assert.Equal(_json, bundle.GetProperty("spiffeBundleJson").GetBytesFromBase64());
    }

    [Fact]
    public async Task Set_File_SendsItsBytesAsIs()
    {
        var pem = _ca.Bundle().ToPem();
        var path = Path.Combine(_dir.Path, "partner.pem");
        File.WriteAllText(path, pem);
        Api.On("SetBundle", (SetBundleRequest r) => new ProtoBundle { TrustDomain = r.TrustDomain, Sequence = 1 });

        var result = await RunAsync("bundle", "set", "--trust-domain", "spiffe://partner.example", "-f", path);

        Assert.Equal((0, "set bundle for partner.example (sequence 1)\n"), (result.ExitCode, result.Out));
        var request = Api.Only<SetBundleRequest>("SetBundle");
        Assert.Equal("partner.example", request.TrustDomain);
        Assert.Equal(Encoding.UTF8.GetBytes(pem), request.Content.ToByteArray());
    }

    [Fact]
    public async Task Set_ServerRejectsTheContent_ExitsOne()
    {
        var path = Path.Combine(_dir.Path, "junk.json");
        File.WriteAllText(path, "{}");
        Api.Fail("SetBundle", StatusCode.InvalidArgument, "bundle for partner.example: keys is missing");

        var result = await RunAsync("bundle", "set", "--trust-domain", "partner.example", "-f", path);

        Assert.Equal((1, "error: bundle for partner.example: keys is missing\n"), (result.ExitCode, result.Error));
    }

    [Fact]
    public async Task Set_BadTrustDomain_ExitsTwoAndSendsNothing()
    {
        var path = Path.Combine(_dir.Path, "b.pem");
        File.WriteAllText(path, "x");

        var result = await RunAsync("bundle", "set", "--trust-domain", "partner example", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --trust-domain \"partner example\": ", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Delete_TrustDomain_SendsItAndConfirms()
    {
        Api.On("DeleteBundle", (DeleteBundleRequest _) => new DeleteBundleResponse());

        var result = await RunAsync("bundle", "delete", "partner.example");

        Assert.Equal((0, "deleted bundle for partner.example\n"), (result.ExitCode, result.Out));
        Assert.Equal("partner.example", Api.Only<DeleteBundleRequest>("DeleteBundle").TrustDomain);
    }

    [Fact]
    public async Task Delete_OwnTrustDomain_ExitsOneWithTheServersWords()
    {
        Api.Fail("DeleteBundle", StatusCode.FailedPrecondition, "cannot delete the bundle of the server's own trust domain");

        var result = await RunAsync("bundle", "delete", "acme.corp");

        Assert.Equal((1, "error: cannot delete the bundle of the server's own trust domain\n"), (result.ExitCode, result.Error));
    }
}
