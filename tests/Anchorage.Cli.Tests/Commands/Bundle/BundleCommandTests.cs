using System.Security.Cryptography;
using System.Text.Json;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Cli.Tests.Commands.Bundle;

public sealed class BundleCommandTests : IDisposable
{
    private static readonly TrustDomain Acme = TrustDomain.Parse("acme.corp");
    private readonly OpenSsl _openssl = new();
    private readonly string _pem;
    private readonly string _json;

    public BundleCommandTests()
    {
        // The X.509 authority comes from openssl; the JWT authority is a key of our own.
        var ca = new OpenSslCa(_openssl);
        ca.CreateRoot("acme", OpenSslCa.CaExtensions + "subjectAltName=URI:spiffe://acme.corp\n");
        _pem = _openssl.PathOf("acme.pem");
        using var jwtKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var bundle = new SpiffeBundle(Acme, [ca.Load("acme")], [JwtAuthority.FromKey("k1", jwtKey)], sequenceNumber: 7, refreshHint: TimeSpan.FromMinutes(5));
        _json = _openssl.WriteFile("acme.json", bundle.ToJson());
        NotAfter = ca.Load("acme").NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
    }

    private string NotAfter { get; }

    public void Dispose() => _openssl.Dispose();

    [Fact]
    public void Inspect_Json_ListsEveryAuthority()
    {
        var result = CliRunner.Run("bundle", "inspect", _json, "--trust-domain", "acme.corp", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        using var doc = JsonDocument.Parse(result.Out);
        var root = doc.RootElement;
        Assert.Equal("acme.corp", root.GetProperty("trustDomain").GetString());
        Assert.Equal(7, root.GetProperty("sequence").GetInt64());
        Assert.Equal(300, root.GetProperty("refreshHintSeconds").GetInt64());
        var authorities = root.GetProperty("authorities").EnumerateArray().ToArray();
        Assert.Equal(2, authorities.Length);
        Assert.Equal(("x509-svid", "CN=acme", "EC P-256", NotAfter), (authorities[0].GetProperty("use").GetString(), authorities[0].GetProperty("subject").GetString(), authorities[0].GetProperty("keyType").GetString(), authorities[0].GetProperty("notAfter").GetString()));
        Assert.Equal(("jwt-svid", "k1", "EC P-256"), (authorities[1].GetProperty("use").GetString(), authorities[1].GetProperty("keyId").GetString(), authorities[1].GetProperty("keyType").GetString()));
    }

    [Fact]
    public void Inspect_Table_ShowsSequenceHintAndRows()
    {
        var result = CliRunner.Run("bundle", "inspect", _json);

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.Split('\n');
        Assert.Equal("sequence:     7", lines[0]);
        Assert.Equal("refresh hint: 300s", lines[1]);
        Assert.Contains(lines, l => l.Contains("x509-svid", StringComparison.Ordinal) && l.Contains("CN=acme", StringComparison.Ordinal) && l.Contains(NotAfter, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("jwt-svid", StringComparison.Ordinal) && l.Contains("k1", StringComparison.Ordinal));
    }

    [Fact]
    public void Inspect_IgnoredKey_WarnsOnStderrAndKeepsTheRest()
    {
        var doc = JsonNodeOf(_json);
        doc["keys"]!.AsArray().Add(System.Text.Json.Nodes.JsonNode.Parse("{\"kty\":\"oct\",\"use\":\"jwt-svid\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}"));
        var path = _openssl.WriteFile("with-oct.json", doc.ToJsonString());

        var result = CliRunner.Run("bundle", "inspect", path, "--output", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"warning: {path}: keys[2]: key type \"oct\" is not supported; ignored\n", result.Error);
        Assert.Equal(2, JsonDocument.Parse(result.Out).RootElement.GetProperty("authorities").GetArrayLength());
    }

    [Fact]
    public void Inspect_MalformedJson_ExitsTwoNamingFile()
    {
        var path = _openssl.WriteFile("broken.json", "{\"keys\": [");

        var result = CliRunner.Run("bundle", "inspect", path);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: bundle file {path}: bundle is not valid JSON", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Inspect_UnknownOutput_ExitsTwo()
    {
        var result = CliRunner.Run("bundle", "inspect", _json, "--output", "yaml");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --output \"yaml\" is not one of: table, json\n", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Convert_PemToSpiffeAndBack_KeepsTheAuthorities()
    {
        var toJson = CliRunner.Run("bundle", "convert", _pem, "--trust-domain", "acme.corp", "--to", "spiffe");
        var jsonPath = _openssl.WriteFile("converted.json", toJson.Out);
        var back = CliRunner.Run("bundle", "convert", jsonPath, "--trust-domain", "acme.corp", "--to", "pem");

        Assert.Equal((0, 0), (toJson.ExitCode, back.ExitCode));
        Assert.Equal(X509Bundle.FromPem(Acme, File.ReadAllText(_pem)).ToPem(), back.Out);
        var parsed = SpiffeBundle.Parse(Acme, System.Text.Encoding.UTF8.GetBytes(toJson.Out));
        Assert.Single(parsed.X509Authorities);
    }

    [Fact]
    public void Convert_JwtAuthoritiesToPem_WarnsTheyAreLeftOut()
    {
        var result = CliRunner.Run("bundle", "convert", _json, "--trust-domain", "acme.corp", "--to", "pem");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("warning: 1 JWT authorities cannot be written as PEM and were left out\n", result.Error);
        Assert.Single(X509Bundle.FromPem(Acme, result.Out).Authorities);
    }

    [Fact]
    public void Convert_BadTrustDomain_ExitsTwo()
    {
        var result = CliRunner.Run("bundle", "convert", _pem, "--trust-domain", "Acme.corp", "--to", "spiffe");

        Assert.Equal((2, "error: --trust-domain \"Acme.corp\": trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase\n"), (result.ExitCode, result.Error));
    }

    private static System.Text.Json.Nodes.JsonNode JsonNodeOf(string path) => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!;
}
