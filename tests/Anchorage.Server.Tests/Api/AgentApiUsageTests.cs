using System.Globalization;
using System.Runtime.Versioning;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// Observed use (issue 15 item 3) through the real agent and admin APIs on a real SQLite datastore:
/// an attested agent's reports are summed per agent and direction and shown in the federation status;
/// <c>unused</c> appears once the fake clock moves past <c>governance.unusedAfter</c> (default 30d)
/// without an allowed connection, with its reason, and goes when one is reported; a caller that is
/// not an attested agent, or a malformed report, stores nothing.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AgentApiUsageTests : IAsyncDisposable
{
    private const string Payments = "payments.example.com";
    private static readonly TrustDomain PaymentsTd = TrustDomain.Parse(Payments);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds()));
    private ApiTestServer? _server;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    // A relationship that no approval holds back and one entry federating with it: "unused" can only come from traffic.
    private async Task<ApiTestServer> StartAsync()
    {
        _server = await ApiTestServer.StartAsync(configure: services => services.AddSingleton<TimeProvider>(_time));
        await _server.Admin.ApplyFederationAsync(new ApplyFederationRequest
        {
            Relationship = new FederatedTrustDomain
            {
                TrustDomain = Payments,
                Owner = "payments-platform@acme.corp",
                Url = "https://payments.example.com:8443/",
                Profile = "https_spiffe",
                EndpointSpiffeId = "spiffe://payments.example.com/anchorage/server",
                BootstrapBundle = TestAuthorities.Ca(Payments).ExportCertificatePem(),
                MaxStalenessSeconds = 1800,
            },
        });
        var created = await _server.Admin.CreateEntriesAsync(new CreateEntriesRequest
        {
            Entries =
            {
                new Protos.Common.V1.Entry
                {
                    SpiffeId = "spiffe://acme.corp/web",
                    ParentId = "spiffe://acme.corp/anchorage/agent/x",
                    Selectors = { new Protos.Common.V1.Selector { Type = "unix", Value = "uid:1000" } },
                    FederatesWith = { Payments },
                },
            },
        });
        Assert.Equal(0, created.Results[0].ErrorCode);
        return _server;
    }

    private static TrustDomainUsage Row(string direction, long allowed, long denied, long lastAllowed, long lastDenied, string td = Payments) =>
        new() { TrustDomain = td, Direction = direction, Allowed = allowed, Denied = denied, LastAllowed = lastAllowed, LastDenied = lastDenied };

    private static Task<Protos.Admin.V1.FederationStatus> ShowAsync(ApiTestServer server) =>
        server.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = Payments }).ResponseAsync;

    private static string Rfc3339(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task ReportUsage_AttestedAgent_SummedAndShown_UnusedAfterUnusedAfterWithReason_GoneWithNewTraffic()
    {
        var server = await StartAsync();
        var svid = await server.AttestAsync();
        var agent = server.Agent(svid);
        var t0 = _time.GetUtcNow().ToUnixTimeSeconds();

        // The row of a trust domain without a relationship is not stored; the governed one is.
        var first = await agent.ReportUsageAsync(new ReportUsageRequest
        {
            Usage = { Row("outbound", 3, 1, t0, t0), Row("inbound", 1, 0, t0, 0), Row("outbound", 5, 0, t0, 0, td: "stranger.example") },
        });
        _time.Advance(TimeSpan.FromMinutes(1));
        var second = await agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", 2, 0, t0 + 60, 0) } });

        Assert.Equal((2, 1), (first.Stored, second.Stored));
        var status = await ShowAsync(server);
        Assert.Equal(
            [(svid.Id.ToString(), "inbound", 1L, 0L, t0, 0L), (svid.Id.ToString(), "outbound", 5L, 1L, t0 + 60, t0)],
            status.Usage.Select(u => (u.AgentId, u.Direction, u.Allowed, u.Denied, u.LastAllowed, u.LastDenied)));
        Assert.DoesNotContain("unused", status.Flags);
        Assert.Equal(string.Empty, status.UnusedReason);
        Assert.Equal((long)TimeSpan.FromDays(30).TotalSeconds, status.UnusedAfterSeconds);

        // Exactly thirty days after the last allowed connection: still used; a second later: unused, and why.
        _time.Advance(TimeSpan.FromDays(30));
        Assert.DoesNotContain("unused", (await ShowAsync(server)).Flags);
        _time.Advance(TimeSpan.FromSeconds(1));
        var unused = await ShowAsync(server);
        Assert.Contains("unused", unused.Flags);
        Assert.Equal($"no connection since {Rfc3339(t0 + 60)} (governance.unusedAfter 30d)", unused.UnusedReason);
        var listed = await server.Admin.ListFederationsAsync(new ListFederationsRequest());
        Assert.Equal(unused.UnusedReason, Assert.Single(listed.Federations).UnusedReason);

        // Denied attempts are not use; an allowed connection is. (Stored directly: thirty fake days on,
        // the agent's SVID has expired by the server's clock, so it can no longer call.)
        var now = _time.GetUtcNow();
        await server.Store.AddUsageAsync(svid.Id, [new(PaymentsTd, string.Empty, "inbound", 0, 4, null, now, default)], CancellationToken.None);
        Assert.Contains("unused", (await ShowAsync(server)).Flags);
        await server.Store.AddUsageAsync(svid.Id, [new(PaymentsTd, string.Empty, "inbound", 1, 0, now, null, default)], CancellationToken.None);
        var used = await ShowAsync(server);
        Assert.DoesNotContain("unused", used.Flags);
        Assert.Equal(string.Empty, used.UnusedReason);
    }

    [Fact]
    public async Task Status_NoTrafficEverReported_UnusedOnceUnusedAfterSinceCreation()
    {
        var server = await StartAsync();
        Assert.DoesNotContain("unused", (await ShowAsync(server)).Flags);

        _time.Advance(TimeSpan.FromDays(30) + TimeSpan.FromMinutes(1));
        var status = await ShowAsync(server);

        Assert.Contains("unused", status.Flags);
        Assert.Equal("no connection seen since it was created (governance.unusedAfter 30d)", status.UnusedReason);
        Assert.Empty(status.Usage);
    }

    [Fact]
    public async Task ReportUsage_OneBadRow_InvalidArgumentNamingIt_NothingStored_TheSameRowsWithoutIt_Stored()
    {
        var server = await StartAsync();
        var agent = server.Agent(await server.AttestAsync());
        var t = _time.GetUtcNow().ToUnixTimeSeconds();

        var sideways = await Assert.ThrowsAsync<RpcException>(() =>
            agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", 1, 0, t, 0), Row("sideways", 1, 0, t, 0) } }).ResponseAsync);
        var negative = await Assert.ThrowsAsync<RpcException>(() =>
            agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", -1, 0, t, 0) } }).ResponseAsync);
        var badTd = await Assert.ThrowsAsync<RpcException>(() =>
            agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", 1, 0, t, 0, td: "Pay Ments") } }).ResponseAsync);
        var badListener = await Assert.ThrowsAsync<RpcException>(() =>
            agent.ReportUsageAsync(new ReportUsageRequest { Usage = { new TrustDomainUsage { TrustDomain = Payments, Direction = "outbound", Allowed = 1, LastAllowed = t, Listener = "pay\u0007ments" } } }).ResponseAsync);
        var tooMany = new ReportUsageRequest();
        tooMany.Usage.AddRange(Enumerable.Range(0, 1025).Select(i => Row("outbound", 1, 0, t, 0, td: $"td{i}.example")));
        var flood = await Assert.ThrowsAsync<RpcException>(() => agent.ReportUsageAsync(tooMany).ResponseAsync);

        Assert.Equal(
            [StatusCode.InvalidArgument, StatusCode.InvalidArgument, StatusCode.InvalidArgument, StatusCode.InvalidArgument],
            new[] { sideways, negative, badTd, flood }.Select(e => e.StatusCode));
        Assert.Equal("usage[1].direction must be inbound or outbound", sideways.Status.Detail);
        Assert.Equal("usage[0]: counts and times must not be negative or out of range", negative.Status.Detail);
        Assert.StartsWith("usage[0].trustDomain is not a trust domain: ", badTd.Status.Detail, StringComparison.Ordinal);
        Assert.Equal("usage has 1025 rows; at most 1024", flood.Status.Detail);
        Assert.Equal("usage[0].listener must be at most 128 characters without control characters", badListener.Status.Detail);
        Assert.Empty((await ShowAsync(server)).Usage);

        // Positive control: the valid row alone is stored.
        Assert.Equal(1, (await agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", 1, 0, t, 0) } })).Stored);
        Assert.Single((await ShowAsync(server)).Usage);
    }

    [Fact]
    public async Task ReportUsage_NotAnAttestedAgent_PermissionDenied_NothingStored()
    {
        // A caller without an agent SVID cannot make a relationship look used (or inflate its denials).
        var server = await StartAsync();
        var t = _time.GetUtcNow().ToUnixTimeSeconds();

        var e = await Assert.ThrowsAsync<RpcException>(() =>
            server.Agent().ReportUsageAsync(new ReportUsageRequest { Usage = { Row("inbound", 100, 0, t, 0) } }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
        Assert.Equal("agent svid is required", e.Status.Detail);
        Assert.Empty((await ShowAsync(server)).Usage);

        // Positive control on the same server: an attested agent's report is stored.
        Assert.Equal(1, (await server.Agent(await server.AttestAsync()).ReportUsageAsync(new ReportUsageRequest { Usage = { Row("inbound", 1, 0, t, 0) } })).Stored);
    }

    [Fact]
    public async Task ReportUsage_Held_ReplacesThatAgentsRows_WithoutTheFlagKept_StrangerSkipped_BadRowRefused()
    {
        var server = await StartAsync();
        var svid = await server.AttestAsync();
        var agent = server.Agent(svid);
        var t0 = _time.GetUtcNow().ToUnixTimeSeconds();

        await agent.ReportUsageAsync(new ReportUsageRequest
        {
            ReportsHeld = true,
            Held = { new HeldBundle { TrustDomain = Payments, Sequence = 7 }, new HeldBundle { TrustDomain = "stranger.example", Sequence = 1 } },
        });
        var first = Assert.Single((await ShowAsync(server)).Held);
        Assert.Equal((svid.Id.ToString(), 7UL), (first.AgentId, first.Sequence));
        // The datastore stamps the report on its own clock (not the test's fake one): a time, not an exact one.
        Assert.True(first.ReportedAt >= t0, $"reported at {first.ReportedAt}, before {t0}");

        // A report without the flag (an older agent, or usage only) leaves the held rows as they are.
        _time.Advance(TimeSpan.FromMinutes(1));
        await agent.ReportUsageAsync(new ReportUsageRequest { Usage = { Row("outbound", 1, 0, t0, 0) } });
        Assert.Equal([7UL], (await ShowAsync(server)).Held.Select(h => h.Sequence));

        // A bad row refuses the whole report: nothing replaced.
        var bad = await Assert.ThrowsAsync<RpcException>(() => agent.ReportUsageAsync(new ReportUsageRequest
        {
            ReportsHeld = true,
            Held = { new HeldBundle { TrustDomain = Payments, Sequence = 8 }, new HeldBundle { TrustDomain = "Not A Domain", Sequence = 1 } },
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.StartsWith("held[1].trustDomain is not a trust domain: ", bad.Status.Detail, StringComparison.Ordinal);
        Assert.Equal([7UL], (await ShowAsync(server)).Held.Select(h => h.Sequence));

        // The next sequence replaces it; an empty report with the flag (the agent dropped the bundle) clears it.
        await agent.ReportUsageAsync(new ReportUsageRequest { ReportsHeld = true, Held = { new HeldBundle { TrustDomain = Payments, Sequence = 8 } } });
        var replaced = Assert.Single((await ShowAsync(server)).Held);
        Assert.Equal(8UL, replaced.Sequence);
        Assert.True(replaced.ReportedAt >= first.ReportedAt);
        await agent.ReportUsageAsync(new ReportUsageRequest { ReportsHeld = true });
        Assert.Empty((await ShowAsync(server)).Held);
    }
}
