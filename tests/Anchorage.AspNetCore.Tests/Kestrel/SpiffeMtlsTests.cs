using System.Security.Authentication;
using System.Security.Claims;
using Anchorage.AspNetCore.Authentication;
using Anchorage.AspNetCore.Authorization;
using Anchorage.AspNetCore.Http;
using Anchorage.AspNetCore.Kestrel;
using Anchorage.AspNetCore.Tests.Fixtures;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Anchorage.AspNetCore.Tests.Kestrel;

/// <summary>
/// Kestrel <c>UseSpiffeMtls</c> against <see cref="SpiffeMtlsHttpHandler"/>, both real, over real
/// TLS on loopback, with SVIDs from CAs built in the test.
/// </summary>
public sealed class SpiffeMtlsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly Identities _ids = new();

    [Fact]
    public async Task UseSpiffeMtls_AllowedClient_PrincipalCarriesSpiffeIdAndTrustDomain()
    {
        await using var server = await StartAsync(Authorizer.MemberOf(Identities.Td));
        using var client = Client(_ids.Svid("/client"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        var body = await client.GetStringAsync(new Uri(server.Address, "whoami"));

        Assert.Equal("spiffe://example.org/client example.org SpiffeX509", body);
    }

    [Fact]
    public async Task UseSpiffeMtls_ClientOutsideAuthorizer_CallerSeesHandshakeFailure_AllowedClientPasses()
    {
        await using var server = await StartAsync(Authorizer.Exact(Identities.Id("/allowed")));
        using var refused = Client(_ids.Svid("/intruder"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));
        using var allowed = Client(_ids.Svid("/allowed"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => refused.GetStringAsync(new Uri(server.Address, "whoami")));
        Assert.Equal("spiffe://example.org/allowed example.org SpiffeX509", await allowed.GetStringAsync(new Uri(server.Address, "whoami")));

        // TLS 1.3: the client finishes first and learns of the refusal from the server's alert;
        // either way the request fails in TLS, before any HTTP response exists.
        Assert.True(IsTlsFailure(failure), failure.ToString());
    }

    [Fact]
    public async Task UseSpiffeMtls_ClientFromImpostorCaOfSameTrustDomainName_Refused()
    {
        await using var server = await StartAsync(Authorizer.Any());
        using var impostor = Client(_ids.Svid("/client", _ids.Impostor), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));
        using var genuine = Client(_ids.Svid("/client"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => impostor.GetStringAsync(new Uri(server.Address, "whoami")));
        Assert.True(IsTlsFailure(failure), failure.ToString());
        Assert.StartsWith("spiffe://example.org/client", await genuine.GetStringAsync(new Uri(server.Address, "whoami")));
    }

    [Fact]
    public async Task UseSpiffeMtls_ClientWithoutCertificate_Refused()
    {
        await using var server = await StartAsync(Authorizer.Any());
        using var handler = new SocketsHttpHandler();
#pragma warning disable CA5359 // the caller skips its own server check: this test is about the server refusing it
        handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
#pragma warning restore CA5359
        using var anonymous = new HttpClient(handler) { Timeout = Timeout };

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetStringAsync(new Uri(server.Address, "whoami")));
        Assert.True(IsTlsFailure(failure), failure.ToString());
    }

    [Fact]
    public async Task AddSpiffeMtls_ServerIdNotAllowedByClient_RequestFails_ExpectedServerPasses()
    {
        await using var server = await StartAsync(Authorizer.Any());
        using var wrongServer = Client(_ids.Svid("/client"), _ids.Bundles, Authorizer.Exact(Identities.Id("/elsewhere")));
        using var rightServer = Client(_ids.Svid("/client"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        var failure = await Assert.ThrowsAsync<HttpRequestException>(() => wrongServer.GetStringAsync(new Uri(server.Address, "whoami")));
        Assert.IsType<AuthenticationException>(failure.InnerException);
        Assert.StartsWith("spiffe://example.org/client", await rightServer.GetStringAsync(new Uri(server.Address, "whoami")));
    }

    [Fact]
    public async Task RequireSpiffeId_OnEndpoint_OtherCallerOfTheTrustDomainGets403_NamedCallerGets200()
    {
        await using var server = await StartAsync(Authorizer.MemberOf(Identities.Td));
        using var named = Client(_ids.Svid("/billing"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));
        using var other = Client(_ids.Svid("/web"), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        using var ok = await named.GetAsync(new Uri(server.Address, "billing-only"));
        using var forbidden = await other.GetAsync(new Uri(server.Address, "billing-only"));
        using var domainOk = await other.GetAsync(new Uri(server.Address, "domain-only"));

        Assert.Equal(200, (int)ok.StatusCode);
        Assert.Equal(403, (int)forbidden.StatusCode);
        Assert.Equal(200, (int)domainOk.StatusCode);
    }

    [Fact]
    public async Task RequireTrustDomain_Policy_CallerOfAnotherTrustDomainGets403()
    {
        await using var server = await StartAsync(Authorizer.Any());
        using var foreign = Client(_ids.Svid("/web", _ids.OtherCa), _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));

        using var forbidden = await foreign.GetAsync(new Uri(server.Address, "domain-only"));
        var who = await foreign.GetStringAsync(new Uri(server.Address, "whoami"));

        Assert.Equal(403, (int)forbidden.StatusCode);
        Assert.Equal("spiffe://other.test/web other.test SpiffeX509", who);
    }

    [Fact]
    public async Task Rotation_BothSidesRotateWhileRequestsFlow_ZeroFailures_NewSvidsInUse()
    {
        var serverSvids = new MutableSvidSource(_ids.Svid("/server"));
        var clientSvids = new MutableSvidSource(_ids.Svid("/client"));
        await using var server = await StartAsync(Authorizer.Exact(Identities.Id("/client")), serverSvids);
        using var handler = new SpiffeMtlsHttpHandler(clientSvids, _ids.Bundles, Authorizer.Exact(Identities.Id("/server")));
        using var client = new HttpClient(handler) { Timeout = Timeout };

        var serials = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var requests = 0;
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    serials.TryAdd(await client.GetStringAsync(new Uri(server.Address, "serial")), 0);
                    Interlocked.Increment(ref requests);
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
            }
        })).ToArray();

        for (var round = 0; round < 3; round++)
        {
            var before = Volatile.Read(ref requests);
            await Eventually.TrueAsync(() => Volatile.Read(ref requests) > before + 20);
            clientSvids.Rotate(_ids.Svid("/client"));
            serverSvids.Rotate(_ids.Svid("/server"));
        }

        var last = clientSvids.GetX509Svid().Leaf.SerialNumber;
        await Eventually.TrueAsync(() => serials.ContainsKey(last));
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.Empty(failures);
        Assert.Equal(4, handler.PoolsCreated);
        Assert.Equal(4, serials.Count);
    }

    internal static bool IsTlsFailure(Exception failure)
    {
        for (var e = failure.InnerException; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException or IOException)
            {
                return true;
            }
        }

        return false;
    }

    private static HttpClient Client(X509Svid svid, IX509BundleSource bundles, Authorizer serverAuthorizer) =>
        new(new SpiffeMtlsHttpHandler(svid, bundles, serverAuthorizer)) { Timeout = Timeout };

    private Task<TestApp> StartAsync(Authorizer authorizer, IX509SvidSource? serverSvids = null) =>
        TestApp.StartAsync(
            listen => listen.UseSpiffeMtls(serverSvids ?? _ids.Svid("/server"), _ids.Bundles, authorizer),
            services =>
            {
                services.AddAuthentication(SpiffeAuthenticationDefaults.X509Scheme).AddSpiffeX509();
                services.AddAuthorization(o => o.AddPolicy("domain", p => p.RequireTrustDomain("example.org")));
            },
            app =>
            {
                app.UseAuthentication();
                app.UseAuthorization();
                app.MapGet("/whoami", (ClaimsPrincipal user) =>
                    $"{user.FindFirst(SpiffeClaimTypes.SpiffeId)?.Value} {user.FindFirst(SpiffeClaimTypes.TrustDomain)?.Value} {user.Identity?.AuthenticationType}")
                    .RequireAuthorization();
                app.MapGet("/serial", (HttpContext context) => context.Connection.ClientCertificate?.SerialNumber ?? "none");
                app.MapGet("/billing-only", () => "billing").RequireSpiffeId("spiffe://example.org/billing");
                app.MapGet("/domain-only", () => "domain").RequireAuthorization("domain");
            });
}
