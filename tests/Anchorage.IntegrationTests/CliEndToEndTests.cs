using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests;

/// <summary>The CLI's admin verbs against a real server (SQLite, temp dirs), checked with openssl and npm's jose.</summary>
[SupportedOSPlatform("linux")]
public sealed class CliEndToEndTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task X509Mint_WriteDir_OpenSslVerifiesAgainstBundleShowAndSeesTheSvidProfile()
    {
        using var openssl = new OpenSsl();
        var dir = openssl.PathOf("svid");

        var mint = await _server.CliAsync("x509", "mint", "--spiffe-id", "spiffe://acme.corp/web", "--write", dir);
        var show = await _server.CliAsync("bundle", "show", "--format", "pem");

        Assert.Equal((0, $"wrote svid.pem, key.pem and bundle.pem for spiffe://acme.corp/web to {dir}\n", ""), (mint.ExitCode, mint.Out, mint.Error));
        Assert.Equal((0, ""), (show.ExitCode, show.Error));
        openssl.WriteFile("bundle.pem", show.Out);
        var svid = Path.Combine(dir, "svid.pem");
        var verified = openssl.TryRun("verify", "-CAfile", "bundle.pem", svid);
        Assert.Equal((0, $"{svid}: OK\n"), (verified.ExitCode, verified.StandardOutput));
        Assert.Equal(0, openssl.TryRun("verify", "-CAfile", Path.Combine(dir, "bundle.pem"), svid).ExitCode);

        // Negative control: the same SVID against a CA that did not sign it.
        openssl.Run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "other.key",
            "-out", "other.pem", "-subj", "/CN=other", "-days", "1");
        Assert.NotEqual(0, openssl.TryRun("verify", "-CAfile", "other.pem", svid).ExitCode);

        var text = openssl.Run("x509", "-in", svid, "-noout", "-text").StandardOutput;
        Assert.Equal("URI:spiffe://acme.corp/web", Extension(text, "X509v3 Subject Alternative Name").Value);
        Assert.Equal(("critical", "Digital Signature"), Extension(text, "X509v3 Key Usage"));
        Assert.DoesNotContain("Certificate Sign", text);
        Assert.Equal("CA:FALSE", Extension(text, "X509v3 Basic Constraints").Value);
        Assert.Equal("TLS Web Server Authentication, TLS Web Client Authentication", Extension(text, "X509v3 Extended Key Usage").Value);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "key.pem")));
    }

    [Fact]
    public async Task JwtMint_Token_JoseVerifiesForItsAudienceAndRejectsAnother()
    {
        var mint = await _server.CliAsync("jwt", "mint", "--spiffe-id", "spiffe://acme.corp/web", "--audience", "svc-a");
        var show = await _server.CliAsync("bundle", "show", "--format", "spiffe");

        Assert.Equal((0, ""), (mint.ExitCode, mint.Error));
        Assert.Equal(0, show.ExitCode);
        var token = mint.Out.TrimEnd('\n');
        var bundle = SpiffeBundle.Parse(TestServer.Td, System.Text.Encoding.UTF8.GetBytes(show.Out));
        Assert.NotEmpty(bundle.JwtAuthorities);

        var ok = Jose.Verify(token, bundle.JwtAuthorities, "svc-a", DateTimeOffset.UtcNow);
        var wrongAudience = Jose.Verify(token, bundle.JwtAuthorities, "svc-b", DateTimeOffset.UtcNow);

        Assert.True(ok["ok"]!.GetValue<bool>(), ok.ToJsonString());
        Assert.Equal("spiffe://acme.corp/web", ok["payload"]!["sub"]!.GetValue<string>());
        Assert.False(wrongAudience["ok"]!.GetValue<bool>());
        Assert.Equal("ERR_JWT_CLAIM_VALIDATION_FAILED", wrongAudience["code"]!.GetValue<string>());
        Assert.Equal("unexpected \"aud\" claim value", wrongAudience["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AuthorityX509_PrepareActivateTaintRevoke_SequenceAndBundleChangeExactlyAsExpected()
    {
        var b0 = await SpiffeBundleAsync();
        var first = Assert.Single(Ids(b0));
        var s0 = b0.SequenceNumber!.Value;

        var prepare = await _server.CliAsync("authority", "x509", "prepare", "-o", "json");
        var second = Authority(prepare)["id"]!.GetValue<string>();
        var b1 = await SpiffeBundleAsync();

        Assert.Equal("prepared", Authority(prepare)["state"]!.GetValue<string>());
        Assert.Equal(s0 + 1, b1.SequenceNumber);
        Assert.Equal(new[] { first, second }.Order(), Ids(b1).Order());

        var activate = await _server.CliAsync("authority", "x509", "activate", "-o", "json");
        var b2 = await SpiffeBundleAsync();

        Assert.Equal((second, "active"), (Authority(activate)["id"]!.GetValue<string>(), Authority(activate)["state"]!.GetValue<string>()));
        Assert.Equal(s0 + 1, b2.SequenceNumber);
        Assert.Equal(Ids(b1).Order(), Ids(b2).Order());

        // A new SVID is signed by the new authority.
        var minted = await _server.Admin.MintX509SvidAsync(new Protos.Admin.V1.MintX509SvidRequest { SpiffeId = "spiffe://acme.corp/web", Csr = TestServer.NewCsr() });
        Assert.Equal(second, Aki(minted.Svid.CertChain[0].ToByteArray()));

        var taint = await _server.CliAsync("authority", "x509", "taint", "-o", "json");
        var b3 = await SpiffeBundleAsync();

        Assert.Equal((first, "old", true), (Authority(taint)["id"]!.GetValue<string>(), Authority(taint)["state"]!.GetValue<string>(), Authority(taint)["tainted"]!.GetValue<bool>()));
        Assert.Equal(s0 + 1, b3.SequenceNumber);
        Assert.Equal(Ids(b1).Order(), Ids(b3).Order());

        var revoke = await _server.CliAsync("authority", "x509", "revoke", "-o", "json");
        var b4 = await SpiffeBundleAsync();

        Assert.Equal(first, Authority(revoke)["id"]!.GetValue<string>());
        Assert.Equal(s0 + 2, b4.SequenceNumber);
        Assert.Equal([second], Ids(b4));

        // Nothing is left to taint or revoke: the CLI says so, exit 1.
        var again = await _server.CliAsync("authority", "x509", "revoke");
        Assert.Equal((1, "", "error: no tainted x509 authority to revoke; taint one first\n"), (again.ExitCode, again.Out, again.Error));
        var activeRevoke = await _server.CliAsync("authority", "x509", "revoke", "--id", second);
        Assert.Equal((1, $"error: cannot revoke the active x509 authority \"{second}\"; activate another first\n"), (activeRevoke.ExitCode, activeRevoke.Error));
        Assert.Equal(s0 + 2, (await SpiffeBundleAsync()).SequenceNumber);
    }

    [Fact]
    public async Task Entry_CreateListShowUpdateCountDelete_ExactOutput()
    {
        var create = await _server.CliAsync("entry", "create", "--spiffe-id", "spiffe://acme.corp/web", "--parent-id", "spiffe://acme.corp/agent", "--selector", "unix:uid:1000");
        Assert.Equal((0, ""), (create.ExitCode, create.Error));
        var id = create.Out.TrimEnd('\n');
        Assert.DoesNotContain('\n', id);
        Assert.NotEmpty(id);

        var list = await _server.CliAsync("entry", "list", "-o", "json");
        var listed = Assert.Single(JsonNode.Parse(list.Out)!["entries"]!.AsArray());
        Assert.Equal(0, list.ExitCode);
        Assert.Equal((id, "spiffe://acme.corp/web", "spiffe://acme.corp/agent"), (listed!["id"]!.GetValue<string>(), listed["spiffeId"]!.GetValue<string>(), listed["parentId"]!.GetValue<string>()));
        var table = await _server.CliAsync("entry", "list");
        Assert.Contains(id, table.Out);

        var show = await _server.CliAsync("entry", "show", id);
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("unix:uid:1000", show.Out);

        var update = await _server.CliAsync("entry", "update", id, "--selector", "unix:uid:2000", "--dns", "web.acme.corp", "-o", "json");
        var updated = JsonNode.Parse(update.Out)!;
        Assert.Equal((0, ""), (update.ExitCode, update.Error));
        Assert.Equal(("unix", "uid:2000"), (updated["selectors"]![0]!["type"]!.GetValue<string>(), updated["selectors"]![0]!["value"]!.GetValue<string>()));
        Assert.Equal("web.acme.corp", updated["dnsNames"]![0]!.GetValue<string>());
        var filtered = await _server.CliAsync("entry", "list", "--selector", "unix:uid:2000", "-o", "json");
        Assert.Single(JsonNode.Parse(filtered.Out)!["entries"]!.AsArray());
        var none = await _server.CliAsync("entry", "list", "--selector", "unix:uid:1000", "-o", "json");
        Assert.Empty(JsonNode.Parse(none.Out)!["entries"]?.AsArray() ?? []);

        Assert.Equal((0, "1\n"), Pair(await _server.CliAsync("entry", "count")));

        var delete = await _server.CliAsync("entry", "delete", id);
        Assert.Equal((0, $"deleted entry {id}\n", ""), (delete.ExitCode, delete.Out, delete.Error));
        Assert.Equal((0, "0\n"), Pair(await _server.CliAsync("entry", "count")));
        var gone = await _server.CliAsync("entry", "show", id);
        Assert.Equal((1, "", $"error: entry \"{id}\" not found\n"), (gone.ExitCode, gone.Out, gone.Error));
    }

    [Fact]
    public async Task Entry_BadInput_ExactMessagesAndExitCodes()
    {
        var args = new[] { "entry", "create", "--spiffe-id", "spiffe://acme.corp/web", "--parent-id", "spiffe://acme.corp/agent" };

        var noColon = await _server.CliAsync([.. args, "--selector", "nocolon"]);
        var unknownType = await _server.CliAsync([.. args, "--selector", "nosuch:x"]);
        var first = await _server.CliAsync([.. args, "--selector", "unix:uid:1000"]);
        var duplicate = await _server.CliAsync([.. args, "--selector", "unix:uid:1000"]);
        var showUnknown = await _server.CliAsync("entry", "show", "nosuch");
        var updateUnknown = await _server.CliAsync("entry", "update", "nosuch", "--hint", "x");
        var deleteUnknown = await _server.CliAsync("entry", "delete", "nosuch");
        var badId = await _server.CliAsync([.. args[..2], "--spiffe-id", "http://acme.corp/web", "--parent-id", "spiffe://acme.corp/agent", "--selector", "unix:uid:1"]);
        var missing = await _server.CliAsync([.. args]);

        Assert.Equal((2, "", "error: --selector \"nocolon\": must be type:value, e.g. unix:uid:1000\n"), Triple(noColon));
        Assert.Equal((1, ""), (unknownType.ExitCode, unknownType.Out));
        Assert.Equal("error: invalid registration entry: selectors[0]: \"nosuch:x\": unknown selector type \"nosuch\"; known types: join_token, unix\n", unknownType.Error);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal((1, "", $"error: an entry with the same spiffe id, parent id and selectors exists: {first.Out.TrimEnd('\n')}\n"), Triple(duplicate));
        Assert.Equal((1, "", "error: entry \"nosuch\" not found\n"), Triple(showUnknown));
        Assert.Equal((1, "", "error: entry \"nosuch\" not found\n"), Triple(updateUnknown));
        Assert.Equal((1, "", "error: entry \"nosuch\" not found\n"), Triple(deleteUnknown));
        Assert.Equal((2, "", "error: --spiffe-id \"http://acme.corp/web\": scheme must be \"spiffe\" followed by \"://\"\n"), Triple(badId));
        Assert.Equal((2, "", "error: --selector is required (or -f FILE)\n"), Triple(missing));
        Assert.Equal((0, "1\n"), Pair(await _server.CliAsync("entry", "count")));
    }

    [Fact]
    public async Task EntryCreateFile_BulkYaml_CreatesEachAndReportsFailuresPerItem()
    {
        using var dir = new TempDir();
        var good = Path.Combine(dir.Path, "good.yaml");
        await File.WriteAllTextAsync(good, """
            entries:
              - spiffeId: spiffe://acme.corp/web
                parentId: spiffe://acme.corp/agent
                selectors: [unix:uid:1000]
              - spiffeId: spiffe://acme.corp/db
                parentId: spiffe://acme.corp/agent
                selectors: [unix:uid:1001, unix:gid:50]
                x509SvidTtl: 30m
                dnsNames: [db.acme.corp]
              - spiffeId: spiffe://acme.corp/cache
                parentId: spiffe://acme.corp/agent
                selectors: [unix:uid:1002]
                admin: true
            """);
        var partial = Path.Combine(dir.Path, "partial.yaml");
        await File.WriteAllTextAsync(partial, """
            entries:
              - spiffeId: spiffe://acme.corp/new
                parentId: spiffe://acme.corp/agent
                selectors: [unix:uid:2000]
              - spiffeId: spiffe://acme.corp/web
                parentId: spiffe://acme.corp/agent
                selectors: [unix:uid:1000]
            """);
        var invalid = Path.Combine(dir.Path, "invalid.yaml");
        await File.WriteAllTextAsync(invalid, """
            entries:
              - spiffeId: spiffe://acme.corp/x
                selectors: [nocolon]
            """);

        var created = await _server.CliAsync("entry", "create", "-f", good);
        var ids = created.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var db = JsonNode.Parse((await _server.CliAsync("entry", "show", ids[1], "-o", "json")).Out)!;
        var second = await _server.CliAsync("entry", "create", "-f", partial);
        var rejected = await _server.CliAsync("entry", "create", "-f", invalid);

        Assert.Equal((0, ""), (created.ExitCode, created.Error));
        Assert.Equal(3, ids.Length);
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(("spiffe://acme.corp/db", "1800", "db.acme.corp"), (db["spiffeId"]!.GetValue<string>(), db["x509SvidTtlSeconds"]!.ToString(), db["dnsNames"]![0]!.GetValue<string>()));
        Assert.Equal(1, second.ExitCode);
        Assert.Single(second.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"error: entries[1] (spiffe://acme.corp/web): an entry with the same spiffe id, parent id and selectors exists: {ids[0]}\n", second.Error);
        Assert.Equal(2, rejected.ExitCode);
        Assert.Equal(
            $"error: {invalid}: entries[0].selectors[0] \"nocolon\": must be type:value, e.g. unix:uid:1000\nerror: {invalid}: entries[0].parentId is required\n",
            rejected.Error);
        Assert.Equal((0, "4\n"), Pair(await _server.CliAsync("entry", "count")));
    }

    private static (int, string) Pair(CliResult r) => (r.ExitCode, r.Out);

    private static (int, string, string) Triple(CliResult r) => (r.ExitCode, r.Out, r.Error);

    private async Task<SpiffeBundle> SpiffeBundleAsync()
    {
        var show = await _server.CliAsync("bundle", "show", "--format", "spiffe");
        Assert.Equal(0, show.ExitCode);
        return SpiffeBundle.Parse(TestServer.Td, System.Text.Encoding.UTF8.GetBytes(show.Out));
    }

    private static JsonNode Authority(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.Error);
        return Assert.Single(JsonNode.Parse(result.Out)!["authorities"]!.AsArray())!;
    }

    /// <summary>The bundle's X.509 authorities by id (subject key identifier, lowercase hex).</summary>
    internal static List<string> Ids(SpiffeBundle bundle) =>
        [.. bundle.X509Authorities.Select(c => c.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!.ToLowerInvariant())];

    internal static string Aki(byte[] der)
    {
        using var cert = X509CertificateLoader.LoadCertificate(der);
        var aki = cert.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single();
        return Convert.ToHexStringLower(aki.KeyIdentifier!.Value.Span);
    }

    /// <summary>An extension of <c>openssl x509 -text</c>: whether it says critical, and its (one-line) value.</summary>
    private static (string Critical, string Value) Extension(string text, string name)
    {
        var lines = text.Split('\n');
        var at = Array.FindIndex(lines, l => l.TrimStart().StartsWith(name + ":", StringComparison.Ordinal));
        Assert.True(at >= 0, $"{name} not in:\n{text}");
        var header = lines[at].Trim();
        var critical = header.EndsWith("critical", StringComparison.Ordinal) ? "critical" : "";
        return (critical, lines[at + 1].Trim());
    }
}
