using System.Runtime.Versioning;
using Anchorage.Foundation.Audit;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// Approval of federation relationships (issue 15 item 1) through the real admin and agent APIs on a
/// real SQLite datastore: pending relationships' bundles reach no agent until approved; the approval
/// records who, when, why and which authorities; an endpoint change needs a new approval; the review
/// date (on a fake clock) flags, or with onReviewDue: suspend withholds; revoke-approval withholds again.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AdminFederationApprovalTests : IAsyncDisposable
{
    private const string Payments = "payments.example.com";
    private static readonly TrustDomain PaymentsTd = TrustDomain.Parse(Payments);

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds())); // whole seconds: the datastore keeps milliseconds
    private readonly ListSink _audit = new();
    private ApiTestServer? _server;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task<ApiTestServer> StartAsync(FederationApprovalRules? rules = null)
    {
        _server = await ApiTestServer.StartAsync(configure: services =>
        {
            services.AddSingleton<TimeProvider>(_time);
            services.AddSingleton<IAuditSink>(_audit);
            if (rules is not null)
            {
                services.AddSingleton(rules);
            }
        });
        return _server;
    }

    private static FederatedTrustDomain Spiffe(long reviewEverySeconds = 0) => new()
    {
        TrustDomain = Payments,
        Owner = "payments-platform@acme.corp",
        Url = "https://payments.example.com:8443/",
        Profile = "https_spiffe",
        EndpointSpiffeId = "spiffe://payments.example.com/anchorage/server",
        BootstrapBundle = TestAuthorities.Ca(Payments).ExportCertificatePem(),
        MaxStalenessSeconds = 1800,
        ReviewEverySeconds = reviewEverySeconds,
    };

    private static Task<Protos.Admin.V1.FederationStatus> ApplyAsync(ApiTestServer server, FederatedTrustDomain spec) =>
        server.Admin.ApplyFederationAsync(new ApplyFederationRequest { Relationship = spec }).ResponseAsync;

    private static Task<Protos.Admin.V1.FederationStatus> ApproveAsync(ApiTestServer server, string note = "") =>
        server.Admin.ApproveFederationAsync(new ApproveFederationRequest { TrustDomain = Payments, Note = note }).ResponseAsync;

    private static Task<Protos.Admin.V1.FederationStatus> ShowAsync(ApiTestServer server) =>
        server.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = Payments }).ResponseAsync;

    // What an attested agent receives.
    private static async Task<bool> AgentReceivesAsync(ApiTestServer server, AgentApi.AgentApiClient agent)
    {
        var bundles = await agent.GetBundlesAsync(new GetBundlesRequest());
        return bundles.Federated.Any(b => b.TrustDomain == Payments);
    }

    [Fact]
    public async Task Apply_Pending_NoAgentReceives_ApproveRecordsWhoWhenWhyAndAuthorities_AgentReceives()
    {
        var server = await StartAsync();
        var agent = server.Agent(await server.AttestAsync());

        var applied = await ApplyAsync(server, Spiffe());

        Assert.Equal(("pending", false), (applied.Approval, applied.Distributed));
        Assert.DoesNotContain("pending", applied.Flags);
        Assert.False(await AgentReceivesAsync(server, agent));

        _time.Advance(TimeSpan.FromMinutes(5));
        var approved = await ApproveAsync(server, "  reviewed with payments security (TICKET-7)  ");

        Assert.Equal(("approved", true), (approved.Approval, approved.Distributed));
        Assert.Equal(_time.GetUtcNow().ToUnixTimeSeconds(), approved.ApprovedAt);
        Assert.Equal((long)ApiTestServer.OwnUid(), approved.ApprovedByUid);
        Assert.Equal(Environment.UserName, approved.ApprovedBy);
        Assert.NotEqual(string.Empty, approved.ApprovedBy);
        Assert.Equal("reviewed with payments security (TICKET-7)", approved.ApprovalNote);
        var stored = await server.Store.GetBundleAsync(PaymentsTd, CancellationToken.None);
        Assert.Equal(FederationApproval.AuthorityIdsOf(stored!.Bundle), approved.ApprovedAuthorities);
        Assert.Single(approved.ApprovedAuthorities);
        Assert.True(await AgentReceivesAsync(server, agent));

        Assert.Equal(["pending", "approved"], _audit.Records.Where(r => r.Kind == AuditKinds.FederationApproval).Select(r => r.Decision));
        var record = _audit.Records.Last(r => r.Kind == AuditKinds.FederationApproval);
        Assert.Equal(Payments, record.TrustDomain);
        Assert.StartsWith($"by admin uid {ApiTestServer.OwnUid()} (", record.Detail, StringComparison.Ordinal);
        Assert.EndsWith($"; authorities {approved.ApprovedAuthorities[0]}; note: reviewed with payments security (TICKET-7)", record.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_UrlChanged_ApprovalDropped_OwnerChangeKeepsIt()
    {
        var server = await StartAsync();
        var agent = server.Agent(await server.AttestAsync());
        await ApplyAsync(server, Spiffe());
        await ApproveAsync(server);

        var owner = Spiffe();
        owner.Owner = "new-owner@acme.corp";
        var kept = await ApplyAsync(server, owner);
        Assert.Equal(("approved", true), (kept.Approval, kept.Distributed));
        Assert.True(await AgentReceivesAsync(server, agent));

        var moved = Spiffe();
        moved.Url = "https://elsewhere.example.com:8443/";
        var dropped = await ApplyAsync(server, moved);

        Assert.Equal(("pending", false, 0L), (dropped.Approval, dropped.Distributed, dropped.ApprovedAt));
        Assert.False(await AgentReceivesAsync(server, agent));
        var record = _audit.Records.Last(r => r.Kind == AuditKinds.FederationApproval);
        Assert.Equal(("approval-dropped", "endpoint url, profile or endpoint SPIFFE ID changed; approve it again"), (record.Decision, record.Detail));

        var endpointId = Spiffe();
        endpointId.Url = moved.Url;
        await ApproveAsync(server);
        endpointId.EndpointSpiffeId = "spiffe://payments.example.com/other-server";
        Assert.Equal("pending", (await ApplyAsync(server, endpointId)).Approval);
    }

    [Fact]
    public async Task ReviewDue_FakeClockPastReviewEvery_FlagOnlyByDefault()
    {
        var server = await StartAsync();
        await ApplyAsync(server, Spiffe(reviewEverySeconds: 90L * 24 * 3600));
        var approved = await ApproveAsync(server);
        Assert.Equal(approved.ApprovedAt + (90L * 24 * 3600), approved.ReviewDueAt);

        _time.Advance(TimeSpan.FromDays(90));
        Assert.DoesNotContain("review-due", (await ShowAsync(server)).Flags);

        _time.Advance(TimeSpan.FromSeconds(1));
        var due = await ShowAsync(server);
        Assert.Contains("review-due", due.Flags);
        Assert.True(due.Distributed);
    }

    [Fact]
    public async Task ReviewDue_Suspend_AgentsStopReceiving_UntilApprovedAgain()
    {
        var server = await StartAsync(new FederationApprovalRules(requireApproval: true, ReviewDueAction.Suspend));
        var agent = server.Agent(await server.AttestAsync());
        // A minute, so that the agent's SVID (checked on the same fake clock) is still valid past the review date.
        await ApplyAsync(server, Spiffe(reviewEverySeconds: 60));
        await ApproveAsync(server);
        Assert.True(await AgentReceivesAsync(server, agent));

        _time.Advance(TimeSpan.FromSeconds(61));
        var due = await ShowAsync(server);

        Assert.Equal((true, false), (due.Flags.Contains("review-due"), due.Distributed));
        Assert.False(await AgentReceivesAsync(server, agent));

        var reviewed = await ApproveAsync(server, "reviewed");
        Assert.Equal((false, true), (reviewed.Flags.Contains("review-due"), reviewed.Distributed));
        Assert.True(await AgentReceivesAsync(server, agent));
    }

    [Fact]
    public async Task RevokeApproval_PendingAgain_AgentsStopReceiving_SecondRevokeFailedPrecondition()
    {
        var server = await StartAsync();
        var agent = server.Agent(await server.AttestAsync());
        await ApplyAsync(server, Spiffe());
        await ApproveAsync(server);

        var revoked = await server.Admin.RevokeFederationApprovalAsync(new RevokeFederationApprovalRequest { TrustDomain = Payments });

        Assert.Equal(("pending", false), (revoked.Approval, revoked.Distributed));
        Assert.False(await AgentReceivesAsync(server, agent));
        Assert.Equal("approval-revoked", _audit.Records.Last(r => r.Kind == AuditKinds.FederationApproval).Decision);
        var again = await Assert.ThrowsAsync<RpcException>(() =>
            server.Admin.RevokeFederationApprovalAsync(new RevokeFederationApprovalRequest { TrustDomain = Payments }).ResponseAsync);
        Assert.Equal((StatusCode.FailedPrecondition, $"federation relationship \"{Payments}\" is not approved"), (again.StatusCode, again.Status.Detail));
        var absent = await Assert.ThrowsAsync<RpcException>(() => server.Admin.ApproveFederationAsync(new ApproveFederationRequest { TrustDomain = "nobody.example" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, absent.StatusCode);
    }

    [Fact]
    public async Task RequireApprovalFalse_NotRequired_AgentsReceiveAtOnce()
    {
        var server = await StartAsync(new FederationApprovalRules(requireApproval: false, ReviewDueAction.Flag));
        var agent = server.Agent(await server.AttestAsync());

        var applied = await ApplyAsync(server, Spiffe());

        Assert.Equal(("not-required", true), (applied.Approval, applied.Distributed));
        Assert.DoesNotContain("pending", applied.Flags);
        Assert.True(await AgentReceivesAsync(server, agent));
        Assert.DoesNotContain(_audit.Records, r => r.Kind == AuditKinds.FederationApproval);
    }

    private sealed class ListSink : IAuditSink
    {
        private readonly List<AuditRecord> _records = [];

        public IReadOnlyList<AuditRecord> Records
        {
            get
            {
                lock (_records)
                {
                    return [.. _records];
                }
            }
        }

        public void Write(AuditRecord record)
        {
            lock (_records)
            {
                _records.Add(record);
            }
        }
    }
}
