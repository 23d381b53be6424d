using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Protos.Workload;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Anchorage.Testing.Workload;
using Anchorage.Testing.X509;
using Grpc.Core;

namespace Anchorage.WorkloadApi.Server.Tests;

public sealed class WorkloadApiServiceTests
{
    private const string MissingHeader = "request must carry metadata workload.spiffe.io: true";
    private const string NoIdentity = "caller has no workload identity";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Each RPC called once with the given metadata; returns normally when the call succeeded.</summary>
    public static TheoryData<string> Methods => new()
    {
        nameof(SpiffeWorkloadAPI.SpiffeWorkloadAPIClient.FetchX509SVID),
        nameof(SpiffeWorkloadAPI.SpiffeWorkloadAPIClient.FetchX509Bundles),
        nameof(SpiffeWorkloadAPI.SpiffeWorkloadAPIClient.FetchJWTSVID),
        nameof(SpiffeWorkloadAPI.SpiffeWorkloadAPIClient.FetchJWTBundles),
        nameof(SpiffeWorkloadAPI.SpiffeWorkloadAPIClient.ValidateJWTSVID),
    };

    [Theory]
    [MemberData(nameof(Methods))]
    [Trait("Spec", "Workload Endpoint security header")]
    public async Task Call_WithoutSecurityHeader_InvalidArgument(string method)
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var token = await MintAsync(host);

        var missing = await Assert.ThrowsAsync<RpcException>(() => CallAsync(host, method, new Metadata(), token));
        var wrongValue = await Assert.ThrowsAsync<RpcException>(() => CallAsync(host, method, new Metadata { { "workload.spiffe.io", "false" } }, token));

        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Equal(MissingHeader, missing.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, wrongValue.StatusCode);
        Assert.Equal(MissingHeader, wrongValue.Status.Detail);

        // Positive control: the same call with the header succeeds.
        await CallAsync(host, method, WorkloadApiHost.Header, token);
    }

    [Theory]
    [MemberData(nameof(Methods))]
    [Trait("Spec", "Workload Endpoint 6")]
    public async Task Call_CallerWithoutIdentity_PermissionDenied(string method)
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var token = await MintAsync(host);
        host.Provider.Deny();

        var ex = await Assert.ThrowsAsync<RpcException>(() => CallAsync(host, method, WorkloadApiHost.Header, token));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal(NoIdentity, ex.Status.Detail);

        host.Provider.Update([host.Svid], host.Bundles());
        await CallAsync(host, method, WorkloadApiHost.Header, token);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_Caller_GetsChainPkcs8KeyAndBundlesKeyedBySpiffeId()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);

        var response = await FirstAsync(call.ResponseStream);

        var svid = Assert.Single(response.Svids);
        Assert.Equal("spiffe://example.org/workload", svid.SpiffeId);
        Assert.Equal("internal", svid.Hint);
        Assert.Equal(host.Svid.ChainToDer(), svid.X509Svid.ToByteArray());
        Assert.Equal(host.Ca.Certificate.RawData, svid.Bundle.ToByteArray());
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(svid.X509SvidKey.Span, out _);
        using var leafKey = host.Svid.Leaf.GetECDsaPublicKey()!;
        Assert.Equal(leafKey.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
        var federated = Assert.Single(response.FederatedBundles);
        Assert.Equal("spiffe://federated.test", federated.Key);
        Assert.Equal(host.FederatedCa.Certificate.RawData, federated.Value.ToByteArray());
    }

    [Fact]
    [Trait("Spec", "Workload API 4.3")]
    public async Task FetchX509Svid_ProviderChanges_StreamPushesNewFullState()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        var first = await FirstAsync(call.ResponseStream);
        var rotated = host.IssueSvid("/workload");
        var second = host.IssueSvid("/db", "external");

        host.Provider.Update([rotated, second], host.Bundles());
        var next = await FirstAsync(call.ResponseStream);

        Assert.Equal(host.Svid.ChainToDer(), Assert.Single(first.Svids).X509Svid.ToByteArray());
        Assert.Equal(2, next.Svids.Count);
        Assert.Equal(rotated.ChainToDer(), next.Svids[0].X509Svid.ToByteArray());
        Assert.Equal("spiffe://example.org/db", next.Svids[1].SpiffeId);
        Assert.Equal("external", next.Svids[1].Hint);
        Assert.Equal(host.Ca.Certificate.RawData, next.Svids[1].Bundle.ToByteArray());
        Assert.Equal("spiffe://federated.test", Assert.Single(next.FederatedBundles).Key);
    }

    [Fact]
    [Trait("Spec", "Workload API 4.3")]
    public async Task FetchX509Svid_SvidAndBundleReplaced_EveryLaterAnswerHasTheNewKeyAndAuthorities()
    {
        // The encoded chain, key and bundle are kept per object and reused across calls: a
        // rotated SVID and a replaced bundle must never be answered with the old bytes.
        await using var host = await WorkloadApiHost.StartAsync();
        using (var warm = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header))
        {
            await FirstAsync(warm.ResponseStream);
        }

        var rotated = host.IssueSvid("/workload", "internal");
        var otherFederated = TestCa.CreateRoot("federated.test");
        host.Provider.Update([rotated], BundleSet.Empty
            .With(host.Ca.Bundle())
            .With(new JwtBundle(host.Ca.TrustDomain, [host.Provider.JwtKey.ToAuthority()]))
            .With(otherFederated.Bundle()));

        for (var i = 0; i < 2; i++)
        {
            using var call = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
            var response = await FirstAsync(call.ResponseStream);

            var svid = Assert.Single(response.Svids);
            Assert.Equal(rotated.ChainToDer(), svid.X509Svid.ToByteArray());
            using var key = ECDsa.Create();
            key.ImportPkcs8PrivateKey(svid.X509SvidKey.Span, out _);
            using var leafKey = rotated.Leaf.GetECDsaPublicKey()!;
            Assert.Equal(leafKey.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
            Assert.Equal(otherFederated.Certificate.RawData, Assert.Single(response.FederatedBundles).Value.ToByteArray());
        }
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_IdentityWithdrawnWhileStreaming_StreamEndsPermissionDenied()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        await FirstAsync(call.ResponseStream);

        host.Provider.Deny();
        var ex = await Assert.ThrowsAsync<RpcException>(() => FirstAsync(call.ResponseStream));

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal(NoIdentity, ex.Status.Detail);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.1")]
    public async Task FetchX509Svid_BundleOnlyCaller_PermissionDenied()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        host.Provider.Update([], host.Bundles());

        using var call = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        var ex = await Assert.ThrowsAsync<RpcException>(() => FirstAsync(call.ResponseStream));
        using var bundles = host.Client.FetchX509Bundles(new X509BundlesRequest(), WorkloadApiHost.Header);

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal("caller is not entitled to any svid", ex.Status.Detail);
        Assert.Equal(2, (await FirstAsync(bundles.ResponseStream)).Bundles.Count);
    }

    [Fact]
    [Trait("Spec", "Workload API 5.2.2")]
    public async Task FetchX509Bundles_Caller_GetsOwnAndFederatedKeyedBySpiffeId()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchX509Bundles(new X509BundlesRequest(), WorkloadApiHost.Header);

        var response = await FirstAsync(call.ResponseStream);

        Assert.Equal(["spiffe://example.org", "spiffe://federated.test"], response.Bundles.Keys.Order());
        Assert.Equal(host.Ca.Certificate.RawData, response.Bundles["spiffe://example.org"].ToByteArray());
        Assert.Equal(host.FederatedCa.Certificate.RawData, response.Bundles["spiffe://federated.test"].ToByteArray());
    }

    [Fact]
    [Trait("Spec", "Workload API 6.2.2")]
    public async Task FetchJwtBundles_Caller_GetsJwksKeyedBySpiffeId()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchJWTBundles(new JWTBundlesRequest(), WorkloadApiHost.Header);

        var response = await FirstAsync(call.ResponseStream);

        var entry = Assert.Single(response.Bundles);
        Assert.Equal("spiffe://example.org", entry.Key);
        var parsed = SpiffeBundle.Parse(TrustDomain.Parse("example.org"), entry.Value.Span);
        Assert.Empty(parsed.X509Authorities);
        Assert.True(Assert.Single(parsed.JwtAuthorities).SameAs(host.Provider.JwtKey.ToAuthority()));
        Assert.Equal("jwt-1", parsed.JwtAuthorities[0].KeyId);
    }

    [Fact]
    [Trait("Spec", "Workload API 6.2.1")]
    public async Task FetchJwtSvid_Audience_MintsTokenThatValidatesLocally()
    {
        await using var host = await WorkloadApiHost.StartAsync();

        var response = await host.Client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, WorkloadApiHost.Header);

        var svid = Assert.Single(response.Svids);
        Assert.Equal("spiffe://example.org/workload", svid.SpiffeId);
        Assert.Equal("internal", svid.Hint);
        var validated = new JwtSvidValidator(host.Time).Validate(svid.Svid, "payments", host.Bundles());
        Assert.Equal("spiffe://example.org/workload", validated.Id.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [Trait("Spec", "Workload API 6.2.1")]
    public async Task FetchJwtSvid_NoAudience_InvalidArgument(int emptyAudiences)
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var request = new JWTSVIDRequest();
        request.Audience.AddRange(Enumerable.Repeat("", emptyAudiences));

        var ex = await Assert.ThrowsAsync<RpcException>(() => host.Client.FetchJWTSVIDAsync(request, WorkloadApiHost.Header).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal("audience is required", ex.Status.Detail);
        request.Audience.Clear();
        request.Audience.Add("payments");
        Assert.Single((await host.Client.FetchJWTSVIDAsync(request, WorkloadApiHost.Header)).Svids);
    }

    [Theory]
    [InlineData(17, 8, "audience has 17 values; at most 16 are allowed")]
    [InlineData(1, 1025, "an audience value is 1025 characters long; at most 1024 are allowed")]
    public async Task FetchJwtSvid_TooManyOrTooLongAudiences_InvalidArgumentAndTheLimitItselfServed(int count, int length, string message)
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var request = new JWTSVIDRequest();
        request.Audience.AddRange(Enumerable.Range(0, count).Select(i => i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture).PadRight(length, 'a')));

        var ex = await Assert.ThrowsAsync<RpcException>(() => host.Client.FetchJWTSVIDAsync(request, WorkloadApiHost.Header).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);

        // Positive control: exactly at the limits is served.
        var atLimit = new JWTSVIDRequest();
        atLimit.Audience.AddRange(Enumerable.Range(0, Math.Min(count, 16)).Select(i => i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture).PadRight(Math.Min(length, 1024), 'a')));
        Assert.Single((await host.Client.FetchJWTSVIDAsync(atLimit, WorkloadApiHost.Header)).Svids);
        var validate = await Assert.ThrowsAsync<RpcException>(() => host.Client.ValidateJWTSVIDAsync(
            new ValidateJWTSVIDRequest { Audience = new string('a', 1025), Svid = "x" }, WorkloadApiHost.Header).ResponseAsync);
        Assert.Equal("an audience value is 1025 characters long; at most 1024 are allowed", validate.Status.Detail);
    }

    [Fact]
    [Trait("Spec", "Workload API 6.2.1")]
    public async Task FetchJwtSvid_SpiffeIdOfAnotherWorkload_PermissionDenied()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        host.Provider.Update([host.Svid, host.IssueSvid("/db", "external")], host.Bundles());

        var ex = await Assert.ThrowsAsync<RpcException>(() => host.Client.FetchJWTSVIDAsync(
            new JWTSVIDRequest { Audience = { "payments" }, SpiffeId = "spiffe://example.org/other" }, WorkloadApiHost.Header).ResponseAsync);
        var only = await host.Client.FetchJWTSVIDAsync(
            new JWTSVIDRequest { Audience = { "payments" }, SpiffeId = "spiffe://example.org/db" }, WorkloadApiHost.Header);
        var all = await host.Client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, WorkloadApiHost.Header);

        Assert.Equal(StatusCode.PermissionDenied, ex.StatusCode);
        Assert.Equal("spiffe_id is not an identity of the caller", ex.Status.Detail);
        Assert.Equal("external", Assert.Single(only.Svids).Hint);
        Assert.Equal(["spiffe://example.org/workload", "spiffe://example.org/db"], all.Svids.Select(s => s.SpiffeId));
    }

    [Fact]
    [Trait("Spec", "Workload API 6.2.3")]
    public async Task ValidateJwtSvid_MintedToken_ReturnsSpiffeIdAndClaims()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var token = await MintAsync(host);

        var response = await host.Client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "payments", Svid = token }, WorkloadApiHost.Header);

        Assert.Equal("spiffe://example.org/workload", response.SpiffeId);
        Assert.Equal("spiffe://example.org/workload", response.Claims.Fields["sub"].StringValue);
        var aud = response.Claims.Fields["aud"];
        Assert.Equal("payments", aud.KindCase == Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue ? aud.ListValue.Values[0].StringValue : aud.StringValue);
        Assert.Equal(host.Time.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds(), (long)response.Claims.Fields["exp"].NumberValue);
    }

    public static TheoryData<string, string> InvalidValidateRequests => new()
    {
        { "", "audience is required" },
        { "payments|", "svid is required" },
        { "other", "invalid jwt-svid: token aud does not contain \"other\"" },
        { "payments|foreign", "invalid jwt-svid: no jwt bundle for trust domain \"foreign.test\"" },
        { "payments|garbage", "invalid jwt-svid: token must have three dot-separated parts" },
    };

    [Theory]
    [MemberData(nameof(InvalidValidateRequests))]
    [Trait("Spec", "Workload API 6.2.3")]
    public async Task ValidateJwtSvid_BadRequest_InvalidArgument(string spec, string message)
    {
        await using var host = await WorkloadApiHost.StartAsync();
        var token = await MintAsync(host);
        var parts = spec.Split('|');
        var svid = parts.Length == 1 ? token : parts[1] switch
        {
            "" => "",
            "foreign" => JwtSvid.Mint(SpiffeId.Parse("spiffe://foreign.test/x"), ["payments"], host.Time.GetUtcNow().AddMinutes(5), host.Provider.JwtKey, host.Time),
            _ => "not-a-jwt",
        };

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            host.Client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = parts[0], Svid = svid }, WorkloadApiHost.Header).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal(message, ex.Status.Detail);

        // Positive control on the same host: the minted token validates for its audience.
        Assert.Equal("spiffe://example.org/workload",
            (await host.Client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "payments", Svid = token }, WorkloadApiHost.Header)).SpiffeId);
    }

    [Fact]
    public async Task FetchX509Svid_OverStreamLimit_Unavailable()
    {
        await using var host = await WorkloadApiHost.StartAsync(maxStreams: 1);
        var first = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        await FirstAsync(first.ResponseStream);

        // The second waits for a slot (WorkloadApiService.StreamSlotWait on the host's clock), then is refused.
        using var second = host.Client.FetchJWTBundles(new JWTBundlesRequest(), WorkloadApiHost.Header);
        var refused = Assert.ThrowsAsync<RpcException>(() => FirstAsync(second.ResponseStream));
        await Eventually.TrueAsync(() => host.Service.WaitingStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload") == 1, "the second stream waiting for a slot");

        // The waiter is counted just before its timer starts on the fake clock: a single move
        // could come first and be missed, so the clock moves on until the refusal arrives.
        await Eventually.TrueAsync(
            () =>
            {
                if (!refused.IsCompleted)
                {
                    host.Time.Advance(WorkloadApiService.StreamSlotWait);
                }

                return refused.IsCompleted;
            },
            "the waiting stream to be refused");
        var ex = await refused;

        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal("too many open streams for this caller", ex.Status.Detail);
        Assert.Equal(0, host.Service.WaitingStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload"));

        // Positive control: once the first stream is gone, its slot is free again.
        first.Dispose();
        await Eventually.TrueAsync(() => host.Service.OpenStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload") == 0);
        using var third = host.Client.FetchJWTBundles(new JWTBundlesRequest(), WorkloadApiHost.Header);
        Assert.Single((await FirstAsync(third.ResponseStream)).Bundles);
    }

    [Fact]
    public async Task FetchX509Svid_AtStreamLimit_ServedWhenASlotIsFreedWithinTheWait()
    {
        await using var host = await WorkloadApiHost.StartAsync(maxStreams: 1);
        var first = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        await FirstAsync(first.ResponseStream);

        // Over the limit: the second stream waits instead of being refused at once ...
        using var second = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        var answer = FirstAsync(second.ResponseStream);
        await Eventually.TrueAsync(() => host.Service.WaitingStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload") == 1, "the second stream waiting for a slot");

        // ... and is served as soon as the first ends, within the wait (the clock never moves).
        first.Dispose();
        Assert.Single((await answer).Svids);
        Assert.Equal(1, host.Service.OpenStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload"));
        Assert.Equal(0, host.Service.WaitingStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload"));
    }

    [Fact]
    public async Task FetchX509Svid_StreamLimit_CountedPerCallerAndDefaultIdentity()
    {
        await using var host = await WorkloadApiHost.StartAsync(maxStreams: 1);
        using var first = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        await FirstAsync(first.ResponseStream);

        // The same caller key with another default identity (another entry) has its own slot ...
        host.Provider.Update([host.IssueSvid("/other")], host.Bundles());
        using var other = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        Assert.Equal("spiffe://example.org/other", Assert.Single((await FirstAsync(other.ResponseStream)).Svids).SpiffeId);

        // ... which is as limited as the first one's.
        using var again = host.Client.FetchX509SVID(new X509SVIDRequest(), WorkloadApiHost.Header);
        var refused = Assert.ThrowsAsync<RpcException>(() => FirstAsync(again.ResponseStream));
        await Eventually.TrueAsync(() => host.Service.WaitingStreams(TestIdentityProvider.Caller, "spiffe://example.org/other") == 1, "the third stream waiting for a slot");
        host.Time.Advance(WorkloadApiService.StreamSlotWait);
        var ex = await refused;
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);
        Assert.Equal(1, host.Service.OpenStreams(TestIdentityProvider.Caller, "spiffe://example.org/workload"));
        Assert.Equal(1, host.Service.OpenStreams(TestIdentityProvider.Caller, "spiffe://example.org/other"));
    }

    [Fact]
    [Trait("Spec", "Workload API 7")]
    public async Task FetchWitSvid_Any_Unimplemented()
    {
        await using var host = await WorkloadApiHost.StartAsync();
        using var call = host.Client.FetchWITSVID(new WITSVIDRequest(), WorkloadApiHost.Header);
        using var bundles = host.Client.FetchWITBundles(new WITBundlesRequest(), WorkloadApiHost.Header);

        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        var ex2 = await Assert.ThrowsAsync<RpcException>(() => bundles.ResponseStream.MoveNext());

        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
        Assert.Equal("the wit-svid profile is not supported", ex.Status.Detail);
        Assert.Equal(StatusCode.Unimplemented, ex2.StatusCode);
    }

    internal static async Task<T> FirstAsync<T>(IAsyncStreamReader<T> stream)
    {
        using var cts = new CancellationTokenSource(Timeout);
        Assert.True(await stream.MoveNext(cts.Token), "stream ended without a message");
        return stream.Current;
    }

    private static async Task<string> MintAsync(WorkloadApiHost host) =>
        Assert.Single((await host.Client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, WorkloadApiHost.Header)).Svids).Svid;

    private static async Task CallAsync(WorkloadApiHost host, string method, Metadata headers, string token)
    {
        var client = host.Client;
        switch (method)
        {
            case nameof(client.FetchX509SVID):
                {
                    using var call = client.FetchX509SVID(new X509SVIDRequest(), headers);
                    Assert.NotEmpty((await FirstAsync(call.ResponseStream)).Svids);
                    break;
                }

            case nameof(client.FetchX509Bundles):
                {
                    using var call = client.FetchX509Bundles(new X509BundlesRequest(), headers);
                    Assert.NotEmpty((await FirstAsync(call.ResponseStream)).Bundles);
                    break;
                }

            case nameof(client.FetchJWTBundles):
                {
                    using var call = client.FetchJWTBundles(new JWTBundlesRequest(), headers);
                    Assert.NotEmpty((await FirstAsync(call.ResponseStream)).Bundles);
                    break;
                }

            case nameof(client.FetchJWTSVID):
                Assert.NotEmpty((await client.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "payments" } }, headers)).Svids);
                break;
            default:
                Assert.Equal("spiffe://example.org/workload",
                    (await client.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "payments", Svid = token }, headers)).SpiffeId);
                break;
        }
    }
}
