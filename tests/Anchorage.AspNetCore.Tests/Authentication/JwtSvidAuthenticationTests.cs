using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Anchorage.AspNetCore.Authentication;
using Anchorage.AspNetCore.Http;
using Anchorage.AspNetCore.Tests.Fixtures;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.AspNetCore.Tests.Authentication;

/// <summary>
/// <c>AddJwtSvid(audience)</c> on a real Kestrel app, with tokens minted by the core and by npm's
/// jose (an independent producer, for the kid-less case), and <see cref="JwtSvidHttpHandler"/>.
/// </summary>
public sealed class JwtSvidAuthenticationTests : IDisposable
{
    private const string Audience = "spiffe://example.org/orders";
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    private static readonly SpiffeId Caller = SpiffeId.Parse("spiffe://example.org/web");

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly JwtSigningKey _signer;
    private readonly BundleSet _bundles;

    public JwtSvidAuthenticationTests()
    {
        _signer = new JwtSigningKey("k1", _key);
        _bundles = BundleSet.Empty
            .With(new JwtBundle(Td, [JwtAuthority.FromKey("k1", _key)]))
            .With(new JwtBundle(TrustDomain.Parse("other.test"), [JwtAuthority.FromKey("o1", _otherKey)]));
    }

    [Fact]
    public async Task AddJwtSvid_ValidToken_200WithSpiffeClaims()
    {
        await using var app = await StartAsync();
        var body = await SendAsync(app, Mint(Caller, Audience, _signer));
        Assert.Equal("200 spiffe://example.org/web example.org", body);
    }

    [Fact]
    public async Task AddJwtSvid_WrongAudience_401_RightAudiencePasses()
    {
        await using var app = await StartAsync();
        Assert.Equal("401", await SendAsync(app, Mint(Caller, "spiffe://example.org/payments", _signer)));
        Assert.StartsWith("200", await SendAsync(app, Mint(Caller, Audience, _signer)));
    }

    [Fact]
    public async Task AddJwtSvid_ExpiredToken_401()
    {
        await using var app = await StartAsync();
        var past = new FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(-20));
        var expired = JwtSvid.Mint(Caller, [Audience], past.GetUtcNow().AddMinutes(5), _signer, past);
        Assert.Equal("401", await SendAsync(app, expired));
    }

    [Fact]
    public async Task AddJwtSvid_TokenOfOtherTrustDomainSignedWithItsKey_AcceptedOnlyThroughItsOwnBundle()
    {
        // A token for other.test signed with other.test's key validates (federated bundle held);
        // a token claiming example.org but signed with other.test's key does not.
        await using var app = await StartAsync();
        var foreignSigner = new JwtSigningKey("o1", _otherKey);
        Assert.Equal("200 spiffe://other.test/web other.test", await SendAsync(app, Mint(SpiffeId.Parse("spiffe://other.test/web"), Audience, foreignSigner)));
        Assert.Equal("401", await SendAsync(app, Mint(Caller, Audience, new JwtSigningKey("k1", _otherKey))));
    }

    [Fact]
    public async Task AddJwtSvid_TrustDomainWithoutBundle_401()
    {
        await using var app = await StartAsync();
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Equal("401", await SendAsync(app, Mint(SpiffeId.Parse("spiffe://stranger.test/web"), Audience, new JwtSigningKey("s1", stranger))));
    }

    [Fact]
    public async Task AddJwtSvid_KidLessTokenFromJose_Accepted_KidLessTokenFromForeignKey_401()
    {
        await using var app = await StartAsync();
        var claims = new JsonObject
        {
            ["sub"] = Caller.ToString(),
            ["aud"] = Audience,
            ["exp"] = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds(),
        };
        Assert.Equal("200 spiffe://example.org/web example.org", await SendAsync(app, Jose.Mint("ES256", kid: null, _key, claims)));
        Assert.Equal("401", await SendAsync(app, Jose.Mint("ES256", kid: null, _otherKey, claims)));
    }

    [Fact]
    public async Task AddJwtSvid_NoOrMalformedBearer_401()
    {
        await using var app = await StartAsync();
        Assert.Equal("401", await SendAsync(app, token: null));
        Assert.Equal("401", await SendAsync(app, "not.a.token"));
    }

    [Fact]
    public async Task JwtSvidHttpHandler_ReusesTokenUntilHalfLife_ThenFetchesAgain()
    {
        // The server's clock is the test's too, so tokens minted after the fake advance are current.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await StartAsync(time);
        var minted = 0;
        Task<JwtSvid> Fetch(string audience, CancellationToken ct)
        {
            Interlocked.Increment(ref minted);
            var token = JwtSvid.Mint(Caller, [audience], time.GetUtcNow().AddMinutes(5), _signer, time);
            return Task.FromResult(JwtSvid.ParseInsecure(token, audience, time));
        }

        using var handler = new JwtSvidHttpHandler(Fetch, Audience, time) { InnerHandler = new SocketsHttpHandler() };
        using var client = new HttpClient(handler);

        Assert.Equal("spiffe://example.org/web example.org", await client.GetStringAsync(new Uri(app.Address, "whoami")));
        await client.GetStringAsync(new Uri(app.Address, "whoami"));
        time.Advance(TimeSpan.FromSeconds(149));
        await client.GetStringAsync(new Uri(app.Address, "whoami"));
        Assert.Equal(1, handler.Fetches);
        time.Advance(TimeSpan.FromSeconds(1));
        await client.GetStringAsync(new Uri(app.Address, "whoami"));
        Assert.Equal(2, handler.Fetches);
        Assert.Equal(2, minted);
    }

    public void Dispose()
    {
        _key.Dispose();
        _otherKey.Dispose();
    }

    private static string Mint(SpiffeId subject, string audience, JwtSigningKey signer) =>
        JwtSvid.Mint(subject, [audience], DateTimeOffset.UtcNow.AddMinutes(5), signer);

    private static async Task<string> SendAsync(TestApp app, string? token)
    {
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(app.Address, "whoami"));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await client.SendAsync(request);
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return response.IsSuccessStatusCode ? status + " " + await response.Content.ReadAsStringAsync() : status;
    }

    private Task<TestApp> StartAsync(TimeProvider? time = null) => TestApp.StartAsync(
        listen => { },
        services =>
        {
            services.AddAuthentication(SpiffeAuthenticationDefaults.JwtSvidScheme).AddJwtSvid(Audience, o =>
            {
                o.Bundles = _bundles;
                o.TimeProvider = time ?? TimeProvider.System;
            });
            services.AddAuthorization();
        },
        app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapGet("/whoami", (ClaimsPrincipal user) =>
                $"{user.FindFirst(SpiffeClaimTypes.SpiffeId)?.Value} {user.FindFirst(SpiffeClaimTypes.TrustDomain)?.Value}")
                .RequireAuthorization();
        },
        https: false);
}
