using System.Globalization;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Cli.Tests.Commands.Svid;

/// <summary>
/// An independent corpus: every chain is produced by the openssl CLI, then answered through
/// `anchorage svid verify`. Each rejected case has a valid sibling from the same CA.
/// </summary>
public sealed class VerifyCommandTests : IClassFixture<VerifyCommandTests.Corpus>
{
    private readonly Corpus _corpus;

    public VerifyCommandTests(Corpus corpus) => _corpus = corpus;

    /// <summary>Chains and bundles made once by openssl for the whole class.</summary>
    public sealed class Corpus : IDisposable
    {
        public Corpus()
        {
            var ca = new OpenSslCa(OpenSsl);
            ca.CreateRoot("acme", OpenSslCa.CaExtensions + "subjectAltName=URI:spiffe://acme.corp\n");
            ca.CreateRoot("payments", OpenSslCa.CaExtensions + "subjectAltName=URI:spiffe://payments.acme.corp\n");
            ca.Issue("inter", "acme", OpenSslCa.CaExtensions);
            ca.Issue("web", "acme", OpenSslCa.LeafExtensions("spiffe://acme.corp/web"));
            ca.Issue("deep", "inter", OpenSslCa.LeafExtensions("spiffe://acme.corp/deep/svc"));
            ca.Issue("api", "payments", OpenSslCa.LeafExtensions("spiffe://payments.acme.corp/api"));
            ca.Issue("forged", "acme", OpenSslCa.LeafExtensions("spiffe://payments.acme.corp/api"));
            ca.Issue("ca-leaf", "acme", OpenSslCa.LeafExtensions("spiffe://acme.corp/web").Replace("CA:FALSE", "CA:TRUE", StringComparison.Ordinal));
            ca.Issue("no-digsig", "acme", OpenSslCa.LeafExtensions("spiffe://acme.corp/web").Replace("digitalSignature,", string.Empty, StringComparison.Ordinal));
            ca.Issue("certsign-leaf", "acme", OpenSslCa.LeafExtensions("spiffe://acme.corp/web").Replace("keyEncipherment", "keyCertSign", StringComparison.Ordinal));
            ca.Issue("two-uris", "acme", OpenSslCa.LeafExtensions("spiffe://acme.corp/web").Replace("URI:spiffe://acme.corp/web", "URI:spiffe://acme.corp/web,URI:spiffe://acme.corp/db", StringComparison.Ordinal));
            ca.Issue("no-uri", "acme", OpenSslCa.LeafExtensions(string.Empty));
            ca.Issue("upper", "acme", OpenSslCa.LeafExtensions("spiffe://ACME.corp/web"));
            OpenSsl.WriteFile("deep-chain.pem", OpenSsl.ReadText("deep.pem") + OpenSsl.ReadText("inter.pem"));
            OpenSsl.WriteFile("garbage.pem", "not a certificate\n");
            WebNotAfter = ca.Load("web").NotAfter.ToUniversalTime();
        }

        public OpenSsl OpenSsl { get; } = new();

        public DateTime WebNotAfter { get; }

        public string PathOf(string name) => OpenSsl.PathOf(name);

        public void Dispose() => OpenSsl.Dispose();
    }

    private string[] Args(string chain, params string[] bundles) =>
        ["svid", "verify", "--chain", _corpus.PathOf(chain), .. bundles.SelectMany(b => new[] { "--bundle", Bundle(b) })];

    private string Bundle(string spec)
    {
        var eq = spec.IndexOf('=', StringComparison.Ordinal);
        return spec[..(eq + 1)] + _corpus.PathOf(spec[(eq + 1)..]);
    }

    public static TheoryData<string, string, string[], int, string> Cases => new()
    {
        { "direct leaf", "web.pem", ["acme.corp=acme.pem"], 0, "spiffe://acme.corp/web" },
        { "leaf via intermediate", "deep-chain.pem", ["acme.corp=acme.pem"], 0, "spiffe://acme.corp/deep/svc" },
        { "federated leaf with its own bundle", "api.pem", ["acme.corp=acme.pem", "payments.acme.corp=payments.pem"], 0, "spiffe://payments.acme.corp/api" },
        { "missing intermediate", "deep.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate does not chain to an authority of trust domain \"acme.corp\"" },
        { "cross-domain forgery", "forged.pem", ["acme.corp=acme.pem", "payments.acme.corp=payments.pem"], 1, "rejected: leaf certificate does not chain to an authority of trust domain \"payments.acme.corp\"" },
        { "federated leaf without its bundle", "api.pem", ["acme.corp=acme.pem"], 1, "rejected: no X.509 bundle for trust domain \"payments.acme.corp\"" },
        { "leaf is a CA", "ca-leaf.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate must not be a CA" },
        { "leaf lacks digitalSignature", "no-digsig.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate key usage lacks digitalSignature" },
        { "leaf has keyCertSign", "certsign-leaf.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate must not have keyCertSign key usage" },
        { "two URI SANs", "two-uris.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate has 2 URI SANs; exactly one is allowed" },
        { "no URI SAN", "no-uri.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate has no URI SAN" },
        { "uppercase trust domain", "upper.pem", ["acme.corp=acme.pem"], 1, "rejected: leaf certificate URI SAN is not a valid SPIFFE ID: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    [Trait("Spec", "X509-SVID 5")]
    public void Verify_OpenSslCorpus_AnswersEachCase(string name, string chain, string[] bundles, int code, string expected)
    {
        var result = CliRunner.Run(Args(chain, bundles));

        Assert.True(code == result.ExitCode, $"{name}: exit {result.ExitCode}, stderr {result.Error}");
        if (code == 0)
        {
            Assert.Equal(expected + "\n", result.Out);
            Assert.Equal(string.Empty, result.Error);
        }
        else
        {
            Assert.Equal(string.Empty, result.Out);
            Assert.Equal(expected + "\n", result.Error);
        }
    }

    [Fact]
    public void Verify_BundleAsSpiffeJson_SameAnswerAsPem()
    {
        var json = CliRunner.Run("bundle", "convert", _corpus.PathOf("acme.pem"), "--trust-domain", "acme.corp", "--to", "spiffe");
        Assert.Equal(0, json.ExitCode);
        _corpus.OpenSsl.WriteFile("acme.json", json.Out);

        var result = CliRunner.Run(Args("web.pem", "acme.corp=acme.json"));

        Assert.Equal((0, "spiffe://acme.corp/web\n"), (result.ExitCode, result.Out));
    }

    [Fact]
    public void Verify_AtAfterExpiry_RejectedAndBeforeExpiryValid()
    {
        var expiry = _corpus.WebNotAfter;
        string At(DateTime t) => t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        var before = CliRunner.Run([.. Args("web.pem", "acme.corp=acme.pem"), "--at", At(expiry.AddMinutes(-1))]);
        var after = CliRunner.Run([.. Args("web.pem", "acme.corp=acme.pem"), "--at", At(expiry.AddMinutes(1))]);

        Assert.Equal(0, before.ExitCode);
        Assert.Equal(1, after.ExitCode);
        Assert.Equal($"rejected: leaf certificate expired at {At(expiry)}\n", after.Error);
    }

    public static TheoryData<string, string[], string> UsageErrors => new()
    {
        { "bundle without TD", ["--chain", "web.pem", "--bundle", "acme.pem"], "error: --bundle \"acme.pem\" must be TD=FILE, e.g. acme.corp=bundle.pem" },
        { "uppercase TD", ["--chain", "web.pem", "--bundle", "ACME.corp=acme.pem"], "error: --bundle \"ACME.corp={dir}/acme.pem\": trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase" },
        { "same TD twice", ["--chain", "web.pem", "--bundle", "acme.corp=acme.pem", "--bundle", "acme.corp=payments.pem"], "error: --bundle: trust domain \"acme.corp\" is given more than once" },
        { "garbage chain", ["--chain", "garbage.pem", "--bundle", "acme.corp=acme.pem"], "error: chain file {dir}/garbage.pem: certificates are neither PEM nor DER" },
        { "bad --at", ["--chain", "web.pem", "--bundle", "acme.corp=acme.pem", "--at", "yesterday"], "error: --at \"yesterday\" is not an RFC 3339 time such as 2026-11-22T10:00:00Z" },
        { "--at without offset", ["--chain", "web.pem", "--bundle", "acme.corp=acme.pem", "--at", "2026-11-22T10:00:00"], "error: --at \"2026-11-22T10:00:00\" is not an RFC 3339 time such as 2026-11-22T10:00:00Z" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void Verify_UsageError_ExitsTwoWithOneLine(string name, string[] args, string expected)
    {
        var dir = _corpus.OpenSsl.WorkDir;
        var resolved = args.Select(a => a switch
        {
            "web.pem" or "garbage.pem" => Path.Combine(dir, a),
            _ when a.EndsWith(".pem", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal) => a[..(a.IndexOf('=', StringComparison.Ordinal) + 1)] + Path.Combine(dir, a[(a.IndexOf('=', StringComparison.Ordinal) + 1)..]),
            _ => a,
        });

        var result = CliRunner.Run(["svid", "verify", .. resolved]);

        Assert.True(result.ExitCode == 2, name);
        Assert.Equal(expected.Replace("{dir}", dir, StringComparison.Ordinal) + "\n", result.Error);
    }

    [Fact]
    public void Verify_MissingFile_ExitsTwoNamingTheFile()
    {
        var missing = Path.Combine(_corpus.OpenSsl.WorkDir, "absent.pem");

        var result = CliRunner.Run(Args("web.pem", "acme.corp=absent.pem"));

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: bundle file {missing}: ", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Process_ExitCodes_AreTheContract()
    {
        var ok = CliRunner.RunProcess(Args("web.pem", "acme.corp=acme.pem"));
        var rejected = CliRunner.RunProcess(Args("forged.pem", "acme.corp=acme.pem", "payments.acme.corp=payments.pem"));
        var usage = CliRunner.RunProcess("svid", "verify", "--bundle", "acme.corp=x.pem");

        Assert.Equal((0, "spiffe://acme.corp/web\n"), (ok.ExitCode, ok.Out));
        Assert.Equal(1, rejected.ExitCode);
        Assert.StartsWith("rejected: ", rejected.Error, StringComparison.Ordinal);
        Assert.Equal(2, usage.ExitCode);
        Assert.StartsWith("error: Option '--chain' is required.", usage.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", usage.Error + rejected.Error, StringComparison.Ordinal);
    }
}
