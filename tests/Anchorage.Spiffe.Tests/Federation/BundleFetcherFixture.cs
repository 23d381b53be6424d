using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.Testing.X509;

namespace Anchorage.Spiffe.Tests.Federation;

/// <summary>
/// Bundle endpoints for <see cref="BundleFetcherTests"/>: a trust domain <c>payments.test</c> with its
/// CA and bundle; https_spiffe servers presenting its endpoint SVID and three wrong ones; https_web
/// servers with certificates from a private Web CA made by the openssl CLI (one for 127.0.0.1 and
/// localhost, one for another host). Started once per test class; tests use their own paths.
/// </summary>
public sealed class BundleFetcherFixture : IAsyncLifetime, IDisposable
{
    public static readonly TrustDomain TrustDomain = TrustDomain.Parse("payments.test");
    public static readonly SpiffeId EndpointId = SpiffeId.Parse("spiffe://payments.test/anchorage/server");

    private readonly OpenSsl _openssl = new();

    /// <summary>payments.test's CA; its certificate names <c>spiffe://payments.test</c>, as SPIRE's and Anchorage's do.</summary>
    public TestCa Ca { get; } = TestCa.CreateRoot("payments.test", new TestCaOptions { SpiffeId = "spiffe://payments.test" });

    /// <summary>payments.test's bundle: the CA, one JWT authority, sequence 5, hint 300 s.</summary>
    public SpiffeBundle Bundle { get; private set; } = null!;

    public ECDsa JwtKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public BundleServer Spiffe { get; private set; } = null!;

    public BundleServer SpiffeWrongId { get; private set; } = null!;

    public BundleServer SpiffeOtherDomain { get; private set; } = null!;

    public BundleServer SpiffeUntrustedCa { get; private set; } = null!;

    public BundleServer Web { get; private set; } = null!;

    public BundleServer WebOtherHost { get; private set; } = null!;

    /// <summary>The openssl-made Web CA's certificate (PEM).</summary>
    public string WebRootPem { get; private set; } = null!;

    public X509Certificate2 WebRoot { get; private set; } = null!;

    /// <summary>The openssl work directory: web.pem/web.key (127.0.0.1), svid.pem/svid.key (the endpoint SVID).</summary>
    public string OpenSslDir => _openssl.WorkDir;

    public async Task InitializeAsync()
    {
        Bundle = new SpiffeBundle(TrustDomain, [Ca.Certificate], [JwtAuthority.FromKey("k1", JwtKey)], 5, TimeSpan.FromSeconds(300));
        Spiffe = await StartSvidServer(Ca.IssueLeaf(new TestLeafOptions { Path = "/anchorage/server" }));
        SpiffeWrongId = await StartSvidServer(Ca.IssueLeaf(new TestLeafOptions { Path = "/workload" }));
        SpiffeOtherDomain = await StartSvidServer(TestCa.CreateRoot("other.test").IssueLeaf(new TestLeafOptions { Path = "/anchorage/server" }));
        SpiffeUntrustedCa = await StartSvidServer(TestCa.CreateRoot("payments.test").IssueLeaf(new TestLeafOptions { Path = "/anchorage/server" }));

        // The Web CA and its leaves come from the openssl CLI, valid for ten years from today, which
        // covers TestClock.Now (2030) that the fetcher's fake clock reads.
        var ca = new OpenSslCa(_openssl);
        WebRoot = ca.CreateRoot("webroot");
        WebRootPem = _openssl.ReadText("webroot.pem");
        const string leaf = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
        ca.Issue("web", "webroot", leaf + "subjectAltName=IP:127.0.0.1,DNS:localhost\n", days: 3650);
        ca.Issue("webother", "webroot", leaf + "subjectAltName=DNS:other.example\n", days: 3650);
        Web = await BundleServer.StartAsync(X509Certificate2.CreateFromPemFile(_openssl.PathOf("web.pem"), _openssl.PathOf("web.key")));
        WebOtherHost = await BundleServer.StartAsync(X509Certificate2.CreateFromPemFile(_openssl.PathOf("webother.pem"), _openssl.PathOf("webother.key")));

        var svid = Ca.IssueLeaf(new TestLeafOptions { Path = "/anchorage/server" });
        _openssl.WriteFile("svid.pem", svid.ChainPem);
        _openssl.WriteFile("svid.key", svid.KeyPem);
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { Spiffe, SpiffeWrongId, SpiffeOtherDomain, SpiffeUntrustedCa, Web, WebOtherHost })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    public void Dispose() => _openssl.Dispose();

    private static Task<BundleServer> StartSvidServer(TestSvid svid) =>
        BundleServer.StartAsync(svid.Leaf.CopyWithPrivateKey((ECDsa)svid.Key), [.. svid.Intermediates]);
}
