using System.Runtime.Versioning;
using Anchorage.Foundation.Audit;
using Anchorage.Protos.Admin.V1;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// A real server with <c>audit:</c> configured federates with another over its real https_spiffe
/// bundle endpoint: every fetch, federated bundle change and local authority change is one line of
/// its audit file; the server without <c>audit:</c> writes none.
/// </summary>
[Trait("Category", "Slow")]
[SupportedOSPlatform("linux")]
public sealed class FederationAuditTests
{
    private static readonly TrustDomain Payments = PaymentsTd;

    [Fact]
    public async Task Server_WithAudit_RecordsFetchesBundleAndAuthorityChanges()
    {
        using var dir = new TempDir();
        var auditFile = Path.Join(dir.Path, "log", "server-audit.jsonl");
        TestServer? acme = await TestServer.StartAsync(Options(dir, "acme", AcmeTd) with { Audit = new AuditOptions { File = auditFile } });
        TestServer? payments = null;
        try
        {
            payments = await TestServer.StartAsync(Options(dir, "payments", Payments));
            Assert.Null(payments.Server.Audit);
            Assert.NotNull(acme.Server.Audit);

            // Bootstrap, then the first fetch from payments' endpoint.
            await ApplyAsync(dir, acme, payments);
            var firstSeq = (await BundleOfAsync(payments, Payments)).SequenceNumber!.Value;
            await WaitAsync(acme, Payments, s => s.Sequence == firstSeq && s.LastRefresh > 0);

            // payments prepares an authority: acme's next fetch adds it.
            var added = await payments.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
            var secondSeq = (await BundleOfAsync(payments, Payments)).SequenceNumber!.Value;
            await WaitAsync(acme, Payments, s => s.Sequence == secondSeq);

            // acme's own CA: prepare, activate, taint, revoke.
            var prepared = await acme.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
            await acme.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
            var tainted = await acme.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
            var revoked = await acme.Admin.RevokeAuthorityAsync(new AuthorityRequest { Kind = "x509" });

            // payments goes away: the next fetch fails and is recorded with its error.
            var endpoint = $"https://127.0.0.1:{payments.Server.Host.BundleEndpoint!.Port}/";
            await payments.DisposeAsync();
            payments = null;
            await UntilAsync(() => Records(auditFile).Any(r => r.Kind == AuditKinds.FederationFetch && r.Outcome is not ("updated" or "unchanged")), "a failed fetch in the audit file");

            var deleted = await acme.CliAsync("federation", "delete", Payments.Name);
            Assert.True(deleted.ExitCode == 0, deleted.Error);

            await acme.DisposeAsync(); // flushes the audit file
            acme = null;
            var records = Records(auditFile);

            // Every record is the server's, of a kind it writes.
            Assert.All(records, r => Assert.Contains(r.Kind, new[] { AuditKinds.FederationFetch, AuditKinds.Bundle, AuditKinds.Authority, AuditKinds.FederationApproval }));
            var pending = Assert.Single(records, r => r.Kind == AuditKinds.FederationApproval);
            Assert.Equal(("pending", Payments.Name, "applied; waits for approval"), (pending.Decision, pending.TrustDomain, pending.Detail));

            var bootstrap = Assert.Single(records, r => r.Kind == AuditKinds.Bundle && r.Decision == "added");
            Assert.Equal(Payments.Name, bootstrap.TrustDomain);
            Assert.Equal($"bootstrap bundle, by admin uid {TestServer.OwnUid()}", bootstrap.Detail);

            var fetches = records.Where(r => r.Kind == AuditKinds.FederationFetch).ToList();
            Assert.All(fetches, f => Assert.Equal(Payments.Name, f.TrustDomain));
            Assert.All(fetches, f => Assert.Equal(endpoint, f.Url));
            var update = Assert.Single(fetches, f => f.Outcome == "updated" && f.Sequence == (long)secondSeq);
            Assert.Equal([added.Id], update.AuthoritiesAdded);
            Assert.Empty(update.AuthoritiesRemoved!);
            Assert.Contains(fetches, f => f.Sequence == (long)firstSeq && f.Outcome is "updated" or "unchanged");
            var failed = fetches.First(f => f.Outcome is not ("updated" or "unchanged"));
            Assert.Contains(endpoint, failed.Outcome, StringComparison.Ordinal);
            Assert.Null(failed.AuthoritiesAdded);

            var stored = Assert.Single(records, r => r.Kind == AuditKinds.Bundle && r.Decision == "updated" && r.TrustDomain == Payments.Name);
            Assert.Equal((long)secondSeq, stored.Sequence);
            Assert.Equal([added.Id], stored.AuthoritiesAdded);

            var removed = Assert.Single(records, r => r.Kind == AuditKinds.Bundle && r.Decision == "removed");
            Assert.Equal(Payments.Name, removed.TrustDomain);
            Assert.Equal($"federation relationship deleted, by admin uid {TestServer.OwnUid()}", removed.Detail);

            // acme's authority changes, in order, for the ones the operator touched.
            var changes = records.Where(r => r.Kind == AuditKinds.Authority && r.AuthorityKind == "x509" && r.Authority != null)
                .Select(r => (r.Decision, r.Authority))
                .Where(c => c.Authority == prepared.Id || c.Authority == tainted.Id)
                .ToList();
            Assert.Equal(
                [("prepared", tainted.Id), ("activated", tainted.Id), ("prepared", prepared.Id), ("activated", prepared.Id), ("tainted", tainted.Id), ("revoked", revoked.Id)],
                changes);
            Assert.Equal(tainted.Id, revoked.Id);
            Assert.All(records.Where(r => r.Kind == AuditKinds.Authority), r => Assert.Equal(AcmeTd.Name, r.TrustDomain));

            // acme's own bundle changed with the prepare and the revoke (the first read at start is not a change).
            Assert.Contains(records, r => r.Kind == AuditKinds.Bundle && r.TrustDomain == AcmeTd.Name && r.AuthoritiesRemoved is [var gone] && gone == revoked.Id);
            Assert.Equal(
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
                File.GetUnixFileMode(auditFile));

            // The CLI reads it back.
            var tail = await TestServer.RunCliAsync("audit", "tail", "--file", auditFile, "--filter", "kind=authority", "--filter", "decision=revoked");
            Assert.Equal(0, tail.ExitCode);
            Assert.EndsWith($" authority revoked td={AcmeTd.Name} authority=x509:{revoked.Id} server={revoked.ServerId}\n", tail.Out);
        }
        finally
        {
            if (payments is not null)
            {
                await payments.DisposeAsync();
            }

            if (acme is not null)
            {
                await acme.DisposeAsync();
            }
        }
    }

    private static List<AuditRecord> Records(string file) =>
        File.Exists(file) ? [.. File.ReadAllLines(file).Select(AuditJson.Parse)] : [];

    private static async Task ApplyAsync(TempDir dir, TestServer local, TestServer peer)
    {
        var bundle = await peer.Admin.GetBundleAsync(new GetBundleRequest());
        var json = System.Text.Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span);
        var file = Path.Join(dir.Path, "payments.yaml");
        await File.WriteAllTextAsync(file, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {Payments.Name}
            spec:
              trustDomain: {Payments.Name}
              owner: platform@acme.corp
              bundleEndpoint:
                url: https://127.0.0.1:{peer.Server.Host.BundleEndpoint!.Port}/
                profile: https_spiffe
                endpointSPIFFEID: spiffe://{Payments.Name}/anchorage/server
                bootstrapBundle: '{json.Replace("'", "''", StringComparison.Ordinal)}'
              maxStaleness: 1m
            """);
        var result = await local.CliAsync("federation", "apply", "-f", file);
        Assert.True(result.ExitCode == 0, result.Error + result.Out);
    }
}
