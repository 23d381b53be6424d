using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Testing;

namespace Anchorage.Cli.Tests.Commands.Federation;

/// <summary><c>federation approve|revoke-approval</c>, <c>spec.reviewEvery</c>, and the approval fields of <c>show</c> (issue 15 item 1).</summary>
public sealed class FederationApprovalCommandTests : AdminTestBase, IDisposable
{
    private const long ApprovedAt = 1_777_636_800; // 2026-05-01T12:00:00Z

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static FederationStatus Approved(string note = "") => new()
    {
        TrustDomain = "payments.acme.corp",
        Name = "payments.acme.corp",
        Owner = "payments-platform@acme.corp",
        Profile = "https_spiffe",
        Url = "https://payments.acme.corp:8443/",
        MaxStalenessSeconds = 1800,
        Approval = "approved",
        ApprovedAt = ApprovedAt,
        ApprovedByUid = 1000,
        ApprovedBy = "alice",
        ApprovalNote = note,
        ApprovedAuthorities = { "0a1b", "kid-1" },
        ReviewEverySeconds = 90L * 86400,
        ReviewDueAt = ApprovedAt + (90L * 86400),
        Distributed = true,
    };

    [Fact]
    public async Task Approve_SendsTrustDomainAndNote_PrintsApprovalFields()
    {
        Api.On("ApproveFederation", (ApproveFederationRequest r) => Approved(r.Note));

        var result = await RunAsync("federation", "approve", "payments.acme.corp", "--note", "INC-42 reviewed");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var sent = Api.Only<ApproveFederationRequest>("ApproveFederation");
        Assert.Equal(("payments.acme.corp", "INC-42 reviewed"), (sent.TrustDomain, sent.Note));
        var lines = result.Out.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("approved: ", StringComparison.Ordinal) && l.EndsWith(" 2026-05-01T12:00:00Z by uid 1000 (alice)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("approval note: ", StringComparison.Ordinal) && l.EndsWith(" INC-42 reviewed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("approved authorities: ", StringComparison.Ordinal) && l.EndsWith(" 0a1b, kid-1", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("review every: ", StringComparison.Ordinal) && l.EndsWith(" 90d", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("review due: ", StringComparison.Ordinal) && l.EndsWith(" 2026-07-30T12:00:00Z", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RevokeApproval_SendsTrustDomain_JsonShowsPending()
    {
        Api.On("RevokeFederationApproval", (RevokeFederationApprovalRequest _) => new FederationStatus
        {
            TrustDomain = "payments.acme.corp",
            Name = "payments.acme.corp",
            Owner = "o",
            Profile = "https_spiffe",
            Url = "https://payments.acme.corp:8443/",
            MaxStalenessSeconds = 1800,
            Approval = "pending",
            ApprovedByUid = -1,
        });

        var result = await RunAsync("federation", "revoke-approval", "payments.acme.corp", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("payments.acme.corp", Api.Only<RevokeFederationApprovalRequest>("RevokeFederationApproval").TrustDomain);
        var o = JsonDocument.Parse(result.Out).RootElement;
        Assert.Equal("pending", o.GetProperty("approval").GetString());
        Assert.Equal(JsonValueKind.Null, o.GetProperty("approvedAt").ValueKind);
        Assert.Equal(JsonValueKind.Null, o.GetProperty("approvedByUid").ValueKind);
        Assert.False(o.GetProperty("distributed").GetBoolean());
    }

    [Fact]
    public async Task Apply_ReviewEvery_SentInSeconds_BadValueWithLineAndPath()
    {
        Api.On("ApplyFederation", (ApplyFederationRequest _) => Approved());
        var doc = $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: web
            spec:
              trustDomain: web.example.net
              owner: web-team@acme.corp
              bundleEndpoint:
                url: https://bundles.example.net/web
                profile: https_web
              maxStaleness: 1h
              reviewEvery: 90d
            """;
        var path = Path.Combine(_dir.Path, "f.yaml");
        await File.WriteAllTextAsync(path, doc);

        var ok = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal((0, string.Empty), (ok.ExitCode, ok.Error));
        Assert.Equal(90L * 86400, Api.Only<ApplyFederationRequest>("ApplyFederation").Relationship.ReviewEverySeconds);

        await File.WriteAllTextAsync(path, doc.Replace("reviewEvery: 90d", "reviewEvery: 400d", StringComparison.Ordinal));
        var tooLong = await RunAsync("federation", "apply", "-f", path);
        Assert.Equal(2, tooLong.ExitCode);
        Assert.Equal($"error: {path}:12: spec.reviewEvery must be at most 31536000 (one year)\n", tooLong.Error);
    }
}
