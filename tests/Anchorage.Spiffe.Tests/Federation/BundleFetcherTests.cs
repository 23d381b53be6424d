using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.X509;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Spiffe.Tests.Federation;

/// <summary>
/// <see cref="BundleFetcher"/> against real TLS servers (Kestrel, and openssl s_server as an
/// independent one): every rejection rule with its exact message next to an accepted fetch from the
/// same server and the same kind of document.
/// </summary>
public sealed class BundleFetcherTests(BundleFetcherFixture f) : IClassFixture<BundleFetcherFixture>
{
    private const string Section4 = "SPIFFE_Trust_Domain_and_Bundle 4.1";
    private const string Section5 = "SPIFFE_Trust_Domain_and_Bundle 5";
    private const string Web = "SPIFFE_Trust_Domain_and_Bundle 5.2.1";
    private const string Spiffe = "SPIFFE_Trust_Domain_and_Bundle 5.2.2";

    // Wall-clock guard so a broken fetcher fails the test instead of hanging it.
    private static readonly TimeSpan Wall = TimeSpan.FromSeconds(30);
    private static readonly TrustDomain Td = BundleFetcherFixture.TrustDomain;

    private readonly FakeTimeProvider _time = TestClock.Create();

    // --- HTTP (§5) ---

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_ValidBundle_AcceptedWithSequenceHintAndFinalUrl()
    {
        var next = Next(6, [f.Ca.Certificate], [JwtAuthority.FromKey("k1", f.JwtKey)]);
        var url = Serve(f.Spiffe, BundleServer.Json(next));

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        Assert.True(result.Accepted, result.Error);
        Assert.Null(result.Error);
        Assert.Equal(Td, result.Bundle!.TrustDomain);
        Assert.Equal(6UL, result.Sequence);
        Assert.Equal(TimeSpan.FromSeconds(300), result.RefreshHint);
        Assert.Equal(url, result.FinalUrl);
        Assert.Equal(200, result.HttpStatus);
        Assert.True(result.Changed);
        Assert.Empty(result.AuthoritiesAdded);
        Assert.Empty(result.AuthoritiesRemoved);
    }

    [Theory]
    [InlineData(300)]
    [InlineData(-90)]
    [InlineData(0)]
    public async Task FetchAsync_EndpointDateOffOurClock_ClockSkewIsDateMinusOurTime(int seconds)
    {
        // The endpoint's clock (its HTTP Date) against the fetcher's; the fake clock stands still
        // during the fetch, so the midpoint is exactly its time.
        var date = _time.GetUtcNow().AddSeconds(seconds);
        var url = Serve(f.Spiffe, async context =>
        {
            context.Response.Headers.Date = date.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            await BundleServer.Json(f.Bundle.ToUtf8Json())(context);
        });

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        Assert.True(result.Accepted, result.Error);
        Assert.NotNull(result.ClockSkew);
        Assert.InRange(result.ClockSkew.Value, TimeSpan.FromSeconds(seconds - 1), TimeSpan.FromSeconds(seconds));
    }

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_Request_IsGetAcceptingJson()
    {
        var body = f.Bundle.ToUtf8Json();
        var url = Serve(f.Spiffe, context =>
            context.Request.Method == "GET" && context.Request.Headers.Accept.ToString() == "application/json"
                ? BundleServer.Json(body)(context)
                : BundleServer.Status(406)(context));

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        Assert.True(result.Accepted, result.Error);
    }

    [Theory]
    [Trait("Spec", Section5)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(204)]
    public async Task FetchAsync_StatusNot200_RejectedNamingStatus(int status)
    {
        var url = Serve(f.Spiffe, BundleServer.Status(status));
        var control = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        AssertRejected(result, $"{url}: HTTP status {status}, expected 200");
        Assert.Equal(status, result.HttpStatus);
        Assert.True((await Fetch(SpiffeRelationship(control), f.Bundle)).Accepted);
    }

    public static TheoryData<string> BodyShapes => new() { "content-length", "chunked" };

    [Theory]
    [Trait("Spec", Section5)]
    [MemberData(nameof(BodyShapes))]
    public async Task FetchAsync_BodyOneByteOverLimit_RejectedAndAtLimitAccepted(string shape)
    {
        var json = f.Bundle.ToUtf8Json();
        var limit = json.Length + 100;
        Func<byte[], Func<HttpContext, Task>> respond = shape == "chunked" ? BundleServer.Chunked : BundleServer.Json;
        var atLimit = Serve(f.Spiffe, respond(Pad(json, limit)));
        var over = Serve(f.Spiffe, respond(Pad(json, limit + 1)));
        var options = new BundleFetcherOptions { MaxBodyBytes = limit };

        var accepted = await Fetch(SpiffeRelationship(atLimit), f.Bundle, options);
        var rejected = await Fetch(SpiffeRelationship(over), f.Bundle, options);

        Assert.True(accepted.Accepted, accepted.Error);
        AssertRejected(rejected, $"{over}: body larger than {limit} bytes");
    }

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_EndlessBody_RejectedAtDefaultLimitWithoutReadingOn()
    {
        var url = Serve(f.Spiffe, BundleServer.Endless());

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        AssertRejected(result, $"{url}: body larger than 1048576 bytes");
    }

    [Theory]
    [Trait("Spec", Section4)]
    [InlineData("garbage", "not a SPIFFE bundle: bundle is not valid JSON (line 1, byte 1)")]
    [InlineData("{}", "not a SPIFFE bundle: bundle has no \"keys\" member")]
    [InlineData("[]", "not a SPIFFE bundle: bundle must be a JSON object")]
    [InlineData("{\"keys\":[],\"spiffe_sequence\":-1}", "not a SPIFFE bundle: \"spiffe_sequence\" must be an unsigned 64-bit integer")]
    public async Task FetchAsync_NotABundle_RejectedWithParserReason(string body, string reason)
    {
        var url = Serve(f.Spiffe, BundleServer.Json(Encoding.UTF8.GetBytes(body)));
        var control = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        AssertRejected(result, $"{url}: {reason}");
        Assert.True((await Fetch(SpiffeRelationship(control), f.Bundle)).Accepted);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 6.1")]
    public async Task FetchAsync_AuthorityOfAnotherTrustDomain_Rejected()
    {
        var other = TestCa.CreateRoot("other.test", new TestCaOptions { SpiffeId = "spiffe://other.test" }).Certificate;
        var ours = TestCa.CreateRoot("payments.test", new TestCaOptions { SpiffeId = "spiffe://payments.test" }).Certificate;
        var foreign = Serve(f.Spiffe, BundleServer.Json(Next(6, [f.Ca.Certificate, other], [])));
        var control = Serve(f.Spiffe, BundleServer.Json(Next(6, [f.Ca.Certificate, ours], [])));

        var rejected = await Fetch(SpiffeRelationship(foreign), f.Bundle);
        var accepted = await Fetch(SpiffeRelationship(control), f.Bundle);

        AssertRejected(rejected, $"{foreign}: X.509 authority {Ski(other)} names trust domain other.test, not payments.test");
        Assert.True(accepted.Accepted, accepted.Error);
        Assert.Equal(Td, accepted.Bundle!.TrustDomain);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.1")]
    public async Task FetchAsync_SequenceRollback_RejectedWhileSameAndHigherAccepted()
    {
        var same = f.Bundle.ToUtf8Json();
        var lower = Serve(f.Spiffe, BundleServer.Json(Next(4, [f.Ca.Certificate], [JwtAuthority.FromKey("k1", f.JwtKey)])));
        var equal = Serve(f.Spiffe, BundleServer.Json(same));
        var higher = Serve(f.Spiffe, BundleServer.Json(Next(6, [f.Ca.Certificate], [JwtAuthority.FromKey("k1", f.JwtKey)])));

        var rollback = await Fetch(SpiffeRelationship(lower), f.Bundle);
        var unchanged = await Fetch(SpiffeRelationship(equal), f.Bundle);
        var newer = await Fetch(SpiffeRelationship(higher), f.Bundle);

        AssertRejected(rollback, $"{lower}: sequence rollback from 5 to 4");
        Assert.Equal(4UL, rollback.Sequence);
        Assert.True(unchanged.Accepted, unchanged.Error);
        Assert.False(unchanged.Changed);
        Assert.Empty(unchanged.Warnings);
        Assert.True(newer.Accepted, newer.Error);
        Assert.True(newer.Changed);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.1")]
    public async Task FetchAsync_SequenceDropped_RejectedButAcceptedWhenNoneWasStored()
    {
        var stripped = new SpiffeBundle(Td, [f.Ca.Certificate], [JwtAuthority.FromKey("k1", f.JwtKey)], null, TimeSpan.FromSeconds(300)).ToUtf8Json();
        var unsequenced = new SpiffeBundle(Td, [f.Ca.Certificate], [JwtAuthority.FromKey("k1", f.JwtKey)]);
        var url = Serve(f.Spiffe, BundleServer.Json(stripped));

        var dropped = await Fetch(SpiffeRelationship(url), f.Bundle);
        var neverHad = await Fetch(SpiffeRelationship(url), unsequenced);

        Assert.NotNull(f.Bundle.SequenceNumber);
        AssertRejected(dropped, $"{url}: bundle has no spiffe_sequence while the current bundle's is {f.Bundle.SequenceNumber}");
        Assert.True(neverHad.Accepted, neverHad.Error);
        Assert.Empty(neverHad.Warnings);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.1")]
    public async Task FetchAsync_SameSequenceDifferentAuthorities_AcceptedWithWarning()
    {
        var rotated = TestCa.CreateRoot("payments.test", new TestCaOptions { SpiffeId = "spiffe://payments.test" }).Certificate;
        var url = Serve(f.Spiffe, BundleServer.Json(Next(5, [f.Ca.Certificate, rotated], [JwtAuthority.FromKey("k1", f.JwtKey)])));

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        Assert.True(result.Accepted, result.Error);
        Assert.True(result.Changed);
        Assert.Equal([Ski(rotated)], result.AuthoritiesAdded);
        Assert.Equal(["spiffe_sequence 5 is unchanged but the authorities changed"], result.Warnings);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.3")]
    public async Task FetchAsync_EveryKeyUnusable_RejectedButExplicitEmptyKeysAccepted()
    {
        const string unusable = """{"spiffe_sequence":6,"keys":[{"use":"x509-svid","kty":"EC"},{"use":"jwt-svid","kty":"oct","kid":"s","k":"c2VjcmV0"}]}""";
        const string empty = """{"spiffe_sequence":6,"keys":[]}""";
        var ignored = Serve(f.Spiffe, BundleServer.Json(Encoding.UTF8.GetBytes(unusable)));
        var nothing = Serve(f.Spiffe, BundleServer.Json(Encoding.UTF8.GetBytes(empty)));

        var rejected = await Fetch(SpiffeRelationship(ignored), f.Bundle);
        var trustNothing = await Fetch(SpiffeRelationship(nothing), f.Bundle);

        AssertRejected(rejected, $"{ignored}: bundle has no usable keys (2 ignored) while the current bundle has 2 authorities");
        Assert.True(trustNothing.Accepted, trustNothing.Error);
        Assert.True(trustNothing.Changed);
        Assert.Empty(trustNothing.Bundle!.X509Authorities);
        Assert.Empty(trustNothing.Bundle.JwtAuthorities);
        Assert.Equal([Ski(f.Ca.Certificate), "k1"], trustNothing.AuthoritiesRemoved);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1.3")]
    public async Task FetchAsync_EveryKeyUnusableAndCurrentEmpty_AcceptedWithParserWarnings()
    {
        const string unusable = """{"keys":[{"use":"x509-svid","kty":"EC"}]}""";
        var url = Serve(f.Web, BundleServer.Json(Encoding.UTF8.GetBytes(unusable)));

        var result = await Fetch(WebRelationship(url, f.WebRootPem), current: null);

        Assert.True(result.Accepted, result.Error);
        Assert.Equal(["keys[0]: x509-svid key has no x5c; ignored"], result.Warnings);
    }

    [Fact]
    [Trait("Spec", "SPIFFE_Trust_Domain_and_Bundle 4.1")]
    public async Task FetchAsync_Rotation_ReportsAuthoritiesAddedAndRemoved()
    {
        TestCa NewCa() => TestCa.CreateRoot("payments.test", new TestCaOptions { SpiffeId = "spiffe://payments.test" });
        var (a, b, c) = (NewCa().Certificate, NewCa().Certificate, NewCa().Certificate);
        var noSki = CaWithoutSki();
        using var k1 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var k2 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var k3 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var k4old = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var k4new = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var current = new SpiffeBundle(Td, [f.Ca.Certificate, a, b],
            [JwtAuthority.FromKey("k1", k1), JwtAuthority.FromKey("k2", k2), JwtAuthority.FromKey("k4", k4old)], 7);
        var url = Serve(f.Spiffe, BundleServer.Json(Next(8, [f.Ca.Certificate, b, c, noSki],
            [JwtAuthority.FromKey("k2", k2), JwtAuthority.FromKey("k3", k3), JwtAuthority.FromKey("k4", k4new)])));

        var result = await Fetch(SpiffeRelationship(url), current);

        Assert.True(result.Accepted, result.Error);
        Assert.Equal([Ski(c), Convert.ToHexStringLower(SHA256.HashData(noSki.RawData)), "k3", "k4"], result.AuthoritiesAdded);
        Assert.Equal([Ski(a), "k1", "k4"], result.AuthoritiesRemoved);
    }

    // --- https_spiffe (§5.2.2) ---

    [Fact]
    [Trait("Spec", Spiffe)]
    public async Task FetchAsync_HttpsSpiffeWithoutCurrentBundle_RejectedWithoutConnecting()
    {
        var url = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var before = f.Spiffe.Requests;

        var rejected = await Fetch(SpiffeRelationship(url), current: null);

        AssertRejected(rejected, $"{url}: no bundle of payments.test to authenticate its endpoint; apply a bootstrapBundle");
        Assert.Equal(before, f.Spiffe.Requests);
        Assert.True((await Fetch(SpiffeRelationship(url), f.Bundle)).Accepted);
    }

    public static TheoryData<string, string> WrongSvids => new()
    {
        { "wrong-id", "TLS: endpoint SPIFFE ID is spiffe://payments.test/workload, expected spiffe://payments.test/anchorage/server" },
        { "other-domain", "TLS: endpoint SVID is of trust domain other.test, not payments.test" },
        { "untrusted-ca", "TLS: endpoint SVID does not verify: leaf certificate does not chain to an authority of trust domain \"payments.test\"" },
    };

    [Theory]
    [Trait("Spec", Spiffe)]
    [MemberData(nameof(WrongSvids))]
    public async Task FetchAsync_HttpsSpiffeWrongSvid_Rejected(string server, string reason)
    {
        var endpoint = server switch
        {
            "wrong-id" => f.SpiffeWrongId,
            "other-domain" => f.SpiffeOtherDomain,
            _ => f.SpiffeUntrustedCa,
        };
        var url = Serve(endpoint, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var control = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));

        var rejected = await Fetch(SpiffeRelationship(url), f.Bundle);

        AssertRejected(rejected, $"{url}: {reason}");
        Assert.Null(rejected.HttpStatus);
        Assert.True((await Fetch(SpiffeRelationship(control), f.Bundle)).Accepted);
    }

    [Fact]
    [Trait("Spec", Spiffe)]
    public async Task FetchAsync_HttpsSpiffeCurrentBundleWithoutX509Authorities_Rejected()
    {
        var url = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var jwtOnly = new SpiffeBundle(Td, [], [JwtAuthority.FromKey("k1", f.JwtKey)], 5);

        var rejected = await Fetch(SpiffeRelationship(url), jwtOnly);

        AssertRejected(rejected, $"{url}: TLS: bundle of payments.test has no X.509 authorities to authenticate its endpoint");
        Assert.True((await Fetch(SpiffeRelationship(url), f.Bundle)).Accepted);
    }

    [Fact]
    [Trait("Spec", Spiffe)]
    public async Task FetchAsync_HttpsSpiffeByHostName_HostNameNotChecked()
    {
        // The SVID has no DNS SAN at all: only the SPIFFE ID authenticates the endpoint.
        var url = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()), host: "localhost");

        var result = await Fetch(SpiffeRelationship(url), f.Bundle);

        Assert.True(result.Accepted, result.Error);
    }

    // --- https_web (§5.2.1) ---

    [Fact]
    [Trait("Spec", Web)]
    public async Task FetchAsync_HttpsWebPrivateCa_TrustedOnlyThroughCaBundle()
    {
        var url = Serve(f.Web, BundleServer.Json(f.Bundle.ToUtf8Json()));

        var withCaBundle = await Fetch(WebRelationship(url, f.WebRootPem), current: null);
        var withExtraRoots = await Fetch(WebRelationship(url), current: null, new BundleFetcherOptions { ExtraWebRoots = [f.WebRoot] });
        var systemOnly = await Fetch(WebRelationship(url), current: null);

        Assert.True(withCaBundle.Accepted, withCaBundle.Error);
        Assert.True(withCaBundle.Changed);
        Assert.Equal([Ski(f.Ca.Certificate), "k1"], withCaBundle.AuthoritiesAdded);
        Assert.True(withExtraRoots.Accepted, withExtraRoots.Error);
        AssertRejected(systemOnly, $"{url}: TLS: certificate of 127.0.0.1 does not chain to the system roots (PartialChain)");
    }

    [Theory]
    [Trait("Spec", Web)]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task FetchAsync_HttpsWebCertificateForAnotherHost_Rejected(string host)
    {
        var url = Serve(f.WebOtherHost, BundleServer.Json(f.Bundle.ToUtf8Json()), host);
        var control = Serve(f.Web, BundleServer.Json(f.Bundle.ToUtf8Json()), host);

        var rejected = await Fetch(WebRelationship(url, f.WebRootPem), current: null);
        var accepted = await Fetch(WebRelationship(control, f.WebRootPem), current: null);

        AssertRejected(rejected, $"{url}: TLS: certificate is not for host {host}");
        Assert.True(accepted.Accepted, accepted.Error);
    }

    [Fact]
    [Trait("Spec", Web)]
    public async Task FetchAsync_HttpsWebAfterCertificateExpiry_RejectedByInjectedClock()
    {
        var url = Serve(f.Web, BundleServer.Json(f.Bundle.ToUtf8Json()));
        Assert.True((await Fetch(WebRelationship(url, f.WebRootPem), current: null)).Accepted);

        _time.SetUtcNow(TestClock.Now.AddYears(20));
        var rejected = await Fetch(WebRelationship(url, f.WebRootPem), current: null);

        AssertRejected(rejected, $"{url}: TLS: certificate of 127.0.0.1 does not chain to the system roots or the configured caBundle (NotTimeValid)");
    }

    [Fact]
    [Trait("Spec", Web)]
    public async Task FetchAsync_HttpsWebAgainstSvidServer_Rejected()
    {
        // An SVID is no Web PKI certificate: the profiles do not mix.
        var url = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));

        var rejected = await Fetch(WebRelationship(url, f.WebRootPem), current: f.Bundle);

        Assert.False(rejected.Accepted);
        Assert.StartsWith($"{url}: TLS: certificate of 127.0.0.1 does not chain to the system roots or the configured caBundle (", rejected.Error);
    }

    // --- redirects ---

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_RedirectToHttp_RejectedWhileHttpsRedirectFollowed()
    {
        var target = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var toHttp = Serve(f.Spiffe, BundleServer.Redirect($"http://127.0.0.1:{f.Spiffe.Port}{target.AbsolutePath}"));
        var toHttps = Serve(f.Spiffe, BundleServer.Redirect(target.ToString(), 307));
        var relative = Serve(f.Spiffe, BundleServer.Redirect(target.AbsolutePath, 301));

        var rejected = await Fetch(SpiffeRelationship(toHttp), f.Bundle);
        var followed = await Fetch(SpiffeRelationship(toHttps), f.Bundle);
        var followedRelative = await Fetch(SpiffeRelationship(relative), f.Bundle);

        AssertRejected(rejected, $"{toHttp}: redirect to http://127.0.0.1:{f.Spiffe.Port}{target.AbsolutePath} is not https");
        Assert.Equal(302, rejected.HttpStatus);
        Assert.True(followed.Accepted, followed.Error);
        Assert.Equal(target, followed.FinalUrl);
        Assert.True(followedRelative.Accepted, followedRelative.Error);
        Assert.Equal(target, followedRelative.FinalUrl);
    }

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_RedirectsOverLimit_RejectedAtLimitAccepted()
    {
        var end = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var hop2 = Serve(f.Spiffe, BundleServer.Redirect(end.ToString()));
        var hop1 = Serve(f.Spiffe, BundleServer.Redirect(hop2.ToString()));
        var hop0 = Serve(f.Spiffe, BundleServer.Redirect(hop1.ToString()));
        var options = new BundleFetcherOptions { MaxRedirects = 2 };

        var tooMany = await Fetch(SpiffeRelationship(hop0), f.Bundle, options);
        var atLimit = await Fetch(SpiffeRelationship(hop1), f.Bundle, options);

        AssertRejected(tooMany, $"{hop2}: more than 2 redirects");
        Assert.True(atLimit.Accepted, atLimit.Error);
        Assert.Equal(end, atLimit.FinalUrl);
    }

    [Fact]
    [Trait("Spec", Spiffe)]
    public async Task FetchAsync_RedirectToEndpointWithWrongSvid_RejectedWithSameChecks()
    {
        var wrong = Serve(f.SpiffeWrongId, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var right = Serve(f.Spiffe, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var toWrong = Serve(f.Spiffe, BundleServer.Redirect(wrong.ToString()));
        var toRight = Serve(f.Spiffe, BundleServer.Redirect(right.ToString()));

        var rejected = await Fetch(SpiffeRelationship(toWrong), f.Bundle);
        var accepted = await Fetch(SpiffeRelationship(toRight), f.Bundle);

        AssertRejected(rejected, $"{wrong}: TLS: endpoint SPIFFE ID is spiffe://payments.test/workload, expected spiffe://payments.test/anchorage/server");
        Assert.Equal(wrong, rejected.FinalUrl);
        Assert.True(accepted.Accepted, accepted.Error);
    }

    [Fact]
    [Trait("Spec", Web)]
    public async Task FetchAsync_WebRedirectToCertificateForAnotherHost_Rejected()
    {
        var other = Serve(f.WebOtherHost, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var same = Serve(f.Web, BundleServer.Json(f.Bundle.ToUtf8Json()));
        var toOther = Serve(f.Web, BundleServer.Redirect(other.ToString()));
        var toSame = Serve(f.Web, BundleServer.Redirect(same.ToString()));

        var rejected = await Fetch(WebRelationship(toOther, f.WebRootPem), current: null);
        var accepted = await Fetch(WebRelationship(toSame, f.WebRootPem), current: null);

        AssertRejected(rejected, $"{other}: TLS: certificate is not for host 127.0.0.1");
        Assert.True(accepted.Accepted, accepted.Error);
    }

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_RedirectWithoutLocation_Rejected()
    {
        var url = Serve(f.Spiffe, BundleServer.Status(302));

        var rejected = await Fetch(SpiffeRelationship(url), f.Bundle);

        AssertRejected(rejected, $"{url}: redirect (HTTP status 302) without a Location header");
    }

    // --- time, network, caller ---

    [Fact]
    [Trait("Spec", Section5)]
    public async Task FetchAsync_NoAnswerWithinTimeout_RejectedWhileAnswerInTimeAccepted()
    {
        var (hung, hungArrived, _) = Held(f.Spiffe);
        var (slow, slowArrived, release) = Held(f.Spiffe);
        using var fetcher = new BundleFetcher(_time);

        var hangingFetch = fetcher.FetchAsync(SpiffeRelationship(hung), f.Bundle, CancellationToken.None);
        await hungArrived.WaitAsync(Wall);
        _time.Advance(TimeSpan.FromSeconds(10));
        var rejected = await hangingFetch.WaitAsync(Wall);

        var slowFetch = fetcher.FetchAsync(SpiffeRelationship(slow), f.Bundle, CancellationToken.None);
        await slowArrived.WaitAsync(Wall);
        _time.Advance(TimeSpan.FromSeconds(9));
        release.SetResult();
        var accepted = await slowFetch.WaitAsync(Wall);

        AssertRejected(rejected, $"{hung}: no answer within 10s");
        Assert.True(accepted.Accepted, accepted.Error);
    }

    [Fact]
    public async Task FetchAsync_CallerCancels_ThrowsInsteadOfRejecting()
    {
        var (url, arrived, _) = Held(f.Spiffe);
        using var fetcher = new BundleFetcher(_time);
        using var cts = new CancellationTokenSource();

        var fetch = fetcher.FetchAsync(SpiffeRelationship(url), f.Bundle, cts.Token);
        await arrived.WaitAsync(Wall);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch.WaitAsync(Wall));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetcher.FetchAsync(SpiffeRelationship(url), f.Bundle, cts.Token));
    }

    [Fact]
    public async Task FetchAsync_ConnectionRefused_Rejected()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        var url = new Uri($"https://127.0.0.1:{port}/bundle");

        var result = await Fetch(WebRelationship(url, f.WebRootPem), current: null);

        Assert.False(result.Accepted);
        Assert.StartsWith($"{url}: connection failed: ", result.Error);
        Assert.Null(result.HttpStatus);
    }

    [Fact]
    public async Task FetchAsync_CallerBugs_ThrowArgumentException()
    {
        using var fetcher = new BundleFetcher(_time);
        var url = f.Spiffe.Url("/bundle");
        var other = new SpiffeBundle(TrustDomain.Parse("other.test"), [], []);

        var http = await Assert.ThrowsAsync<ArgumentException>(() =>
            fetcher.FetchAsync(SpiffeRelationship(new Uri("http://127.0.0.1/bundle")), f.Bundle, CancellationToken.None));
        var wrongCurrent = await Assert.ThrowsAsync<ArgumentException>(() =>
            fetcher.FetchAsync(SpiffeRelationship(url), other, CancellationToken.None));
        var noId = await Assert.ThrowsAsync<ArgumentException>(() =>
            fetcher.FetchAsync(SpiffeRelationship(url) with { EndpointSpiffeId = null }, f.Bundle, CancellationToken.None));
        var foreignId = await Assert.ThrowsAsync<ArgumentException>(() =>
            fetcher.FetchAsync(SpiffeRelationship(url) with { EndpointSpiffeId = SpiffeId.Parse("spiffe://other.test/server") }, f.Bundle, CancellationToken.None));

        Assert.Equal("bundle endpoint URL http://127.0.0.1/bundle must be absolute https (Parameter 'relationship')", http.Message);
        Assert.Equal("current bundle is of other.test, not payments.test (Parameter 'current')", wrongCurrent.Message);
        Assert.Equal("an https_spiffe relationship needs an endpoint SPIFFE ID in payments.test (Parameter 'relationship')", noId.Message);
        Assert.Equal(noId.Message, foreignId.Message);
    }

    [Fact]
    public void Constructor_OptionsOutOfRange_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BundleFetcher(_time, new BundleFetcherOptions { MaxBodyBytes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BundleFetcher(_time, new BundleFetcherOptions { MaxBodyBytes = SpiffeBundle.MaxSize + 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BundleFetcher(_time, new BundleFetcherOptions { Timeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BundleFetcher(_time, new BundleFetcherOptions { MaxRedirects = -1 }));
        using var fetcher = new BundleFetcher(_time, new BundleFetcherOptions { MaxBodyBytes = SpiffeBundle.MaxSize, MaxRedirects = 0 });
    }

    // --- openssl s_server -WWW, an independent bundle endpoint ---

    [Fact]
    [Trait("Spec", Web)]
    public async Task FetchAsync_OpenSslServerHttpsWeb_AcceptedAndUntrustedWithoutCaBundle()
    {
        File.WriteAllBytes(Path.Combine(f.OpenSslDir, "bundle.json"), Next(6, [f.Ca.Certificate], []));
        using var server = await OpenSslWwwServer.StartAsync(f.OpenSslDir, "web.pem", "web.key");
        var url = server.Url("/bundle.json");

        var accepted = await Fetch(WebRelationship(url, f.WebRootPem), current: null);
        var rejected = await Fetch(WebRelationship(url), current: null);

        Assert.True(accepted.Accepted, accepted.Error);
        Assert.Equal(6UL, accepted.Sequence);
        Assert.StartsWith($"{url}: TLS: certificate of 127.0.0.1 does not chain to the system roots (", rejected.Error);
    }

    [Fact]
    [Trait("Spec", Spiffe)]
    public async Task FetchAsync_OpenSslServerHttpsSpiffe_AcceptedAndWrongIdRejected()
    {
        File.WriteAllBytes(Path.Combine(f.OpenSslDir, "spiffe-bundle.json"), Next(7, [f.Ca.Certificate], []));
        using var server = await OpenSslWwwServer.StartAsync(f.OpenSslDir, "svid.pem", "svid.key");
        var url = server.Url("/spiffe-bundle.json");

        var accepted = await Fetch(SpiffeRelationship(url), f.Bundle);
        var rejected = await Fetch(SpiffeRelationship(url) with { EndpointSpiffeId = SpiffeId.Parse("spiffe://payments.test/other") }, f.Bundle);

        Assert.True(accepted.Accepted, accepted.Error);
        Assert.Equal(7UL, accepted.Sequence);
        Assert.Equal(["k1"], accepted.AuthoritiesRemoved);
        AssertRejected(rejected, $"{url}: TLS: endpoint SPIFFE ID is spiffe://payments.test/anchorage/server, expected spiffe://payments.test/other");
    }

    // --- helpers ---

    private static BundleEndpoint SpiffeRelationship(Uri url) => new()
    {
        TrustDomain = Td,
        Url = url,
        Profile = BundleEndpointProfile.HttpsSpiffe,
        EndpointSpiffeId = BundleFetcherFixture.EndpointId,
    };

    private static BundleEndpoint WebRelationship(Uri url, string? caBundlePem = null) => new()
    {
        TrustDomain = Td,
        Url = url,
        Profile = BundleEndpointProfile.HttpsWeb,
        CaBundlePem = caBundlePem,
    };

    private async Task<BundleFetchResult> Fetch(BundleEndpoint relationship, SpiffeBundle? current, BundleFetcherOptions? options = null)
    {
        using var fetcher = new BundleFetcher(_time, options);
        return await fetcher.FetchAsync(relationship, current, CancellationToken.None).WaitAsync(Wall);
    }

    private static Uri Serve(BundleServer server, Func<HttpContext, Task> respond, string host = "127.0.0.1")
    {
        var path = "/" + Guid.NewGuid().ToString("N");
        server.Routes[path] = respond;
        return server.Url(path, host);
    }

    /// <summary>A route that holds its answer (the bundle) until released; the task completes when a request arrives.</summary>
    private (Uri Url, Task Arrived, TaskCompletionSource Release) Held(BundleServer server)
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var url = Serve(server, BundleServer.Wait(arrived, release.Task, BundleServer.Json(f.Bundle.ToUtf8Json())));
        return (url, arrived.Task, release);
    }

    private static byte[] Next(ulong sequence, X509Certificate2[] x509, JwtAuthority[] jwt) =>
        new SpiffeBundle(Td, x509, jwt, sequence, TimeSpan.FromSeconds(300)).ToUtf8Json();

    private static byte[] Pad(byte[] json, int length)
    {
        var padded = new byte[length];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        return padded;
    }

    private static string Ski(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!.ToLowerInvariant();

    private static X509Certificate2 CaWithoutSki()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=payments.test CA without SKI", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var certificate = request.CreateSelfSigned(TestClock.Now.AddDays(-1), TestClock.Now.AddYears(1));
        return X509CertificateLoader.LoadCertificate(certificate.RawData);
    }

    private static void AssertRejected(BundleFetchResult result, string error)
    {
        Assert.Equal(error, result.Error);
        Assert.False(result.Accepted);
        Assert.Null(result.Bundle);
        Assert.False(result.Changed);
        Assert.Empty(result.AuthoritiesAdded);
        Assert.Empty(result.AuthoritiesRemoved);
    }
}
