using System.Diagnostics;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.X509;
using Xunit.Abstractions;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Approval (issue 15 item 1) with two real domains (servers, bundle endpoints, agents, SDK
/// workloads): a pending relationship's bundle is fetched and shown but reaches no workload; after
/// <c>anchorage federation approve</c> it does; a changed endpoint URL needs a new approval, and
/// until then the workload loses the bundle.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationApprovalTests(ITestOutputHelper output)
{
    // A trust domain with a bundle set by the operator (no relationship, so not governed by approval):
    // when the workload holds it, its agent has pulled bundles after the pending one was stored.
    private static readonly TrustDomain Probe = TrustDomain.Parse("probe.example");

    [Fact]
    public async Task Pending_FetchedButNotGiven_ApproveGivesIt_UrlChangeNeedsReapproval()
    {
        await using var domains = await TwoDomains.StartAsync();
        var payments = await domains.WorkloadAsync(PaymentsTd, "/ledger", AcmeTd, Probe);

        await domains.ApplyAsync(domains.Payments, AcmeTd, domains.Acme, approve: false);
        var acmeSeq = (await BundleOfAsync(domains.Acme, AcmeTd)).SequenceNumber!.Value;
        var pending = await WaitAsync(domains.Payments, AcmeTd, s => s.Sequence == acmeSeq && s.LastRefresh > 0);
        Assert.Equal(("pending", false), (pending.Approval, pending.Distributed));
        var shown = await domains.Payments.CliAsync("federation", "show", AcmeTd.Name);
        Assert.Contains(shown.Out.Split('\n'), l => l.StartsWith("approval: ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" pending", StringComparison.Ordinal));
        Assert.Contains(shown.Out.Split('\n'), l => l.StartsWith("given to agents: ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(" no", StringComparison.Ordinal));

        var probeCa = TestCa.CreateRoot(Probe.Name);
        await domains.Payments.Admin.SetBundleAsync(new SetBundleRequest
        {
            TrustDomain = Probe.Name,
            Content = Google.Protobuf.ByteString.CopyFromUtf8(probeCa.Certificate.ExportCertificatePem()),
        });
        await UntilAsync(() => payments.Has(Probe), "the probe bundle in payments.acme.corp's workload");
        Assert.False(payments.Has(AcmeTd));

        var clock = Stopwatch.StartNew();
        var approved = await domains.Payments.CliAsync("federation", "approve", AcmeTd.Name, "--note", "INC-42 reviewed");
        Assert.True(approved.ExitCode == 0, approved.Error + approved.Out);
        await UntilAsync(() => payments.Has(AcmeTd), "acme.corp's bundle in payments.acme.corp's workload after approval");
        output.WriteLine($"federation approve -> bundle in the workload in {clock.ElapsedMilliseconds} ms");
        var status = await domains.Payments.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = AcmeTd.Name });
        Assert.Equal(("approved", true, "INC-42 reviewed", (long)TestServer.OwnUid()), (status.Approval, status.Distributed, status.ApprovalNote, status.ApprovedByUid));
        Assert.NotEmpty(status.ApprovedAuthorities);

        // The endpoint moves (same peer, URL spelled with "localhost"): the old approval does not carry over.
        var moved = (await File.ReadAllTextAsync(LastApplied(domains))).Replace("https://127.0.0.1:", "https://localhost:", StringComparison.Ordinal);
        await domains.ApplyYamlAsync(domains.Payments, AcmeTd, moved, approve: false);
        var dropped = await domains.Payments.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = AcmeTd.Name });
        Assert.Equal(("pending", false), (dropped.Approval, dropped.Distributed));
        await UntilAsync(() => !payments.Has(AcmeTd), "acme.corp's bundle to leave the workload after the URL change");
        Assert.True(payments.Has(Probe));

        var again = await domains.Payments.CliAsync("federation", "approve", AcmeTd.Name);
        Assert.True(again.ExitCode == 0, again.Error + again.Out);
        await UntilAsync(() => payments.Has(AcmeTd), "acme.corp's bundle back after the new approval");
    }

    private static string LastApplied(TwoDomains domains) =>
        Directory.GetFiles(domains.Dir.Path, $"{AcmeTd.Name}-*.yaml").OrderBy(File.GetLastWriteTimeUtc).Last();
}
