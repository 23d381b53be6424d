using System.Diagnostics;
using System.Text.Json;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;
using Xunit.Abstractions;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Two servers of two trust domains federate in both directions from YAML (https_spiffe,
/// bootstrapped from each other's bundle): refresh, revocation and endpoint outage, measured.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationEndToEndTests(ITestOutputHelper output)
{
    private static readonly TrustDomain Payments = PaymentsTd;

    [Fact]
    public async Task TwoServers_FederateFromYaml_RefreshRevocationAndOutageBehave()
    {
        await using var domains = await TwoDomains.StartAsync();
        var acme = domains.Acme;
        var payments = domains.Payments;
        await domains.ApplyAsync(acme, Payments, payments);
        await domains.ApplyAsync(payments, TestServer.Td, acme);

        // Both directions converge on the peer's current sequence.
        var clock = Stopwatch.StartNew();
        var paymentsSeq = (await BundleOfAsync(payments, Payments)).SequenceNumber!.Value;
        await WaitAsync(acme, Payments, s => s.Sequence == paymentsSeq && s.LastRefresh > 0);
        var acmeSeq = (await acme.BundleAsync()).SequenceNumber!.Value;
        await WaitAsync(payments, TestServer.Td, s => s.Sequence == acmeSeq && s.LastRefresh > 0);
        output.WriteLine($"first fetch in both directions: {clock.ElapsedMilliseconds} ms");

        var show = await acme.CliAsync("federation", "show", Payments.Name, "--output", "json");
        Assert.True(show.ExitCode == 0, show.Error);
        using (var json = JsonDocument.Parse(show.Out))
        {
            Assert.Equal(Payments.Name, json.RootElement.GetProperty("trustDomain").GetString());
            Assert.Equal((long)paymentsSeq, json.RootElement.GetProperty("sequence").GetInt64());
            Assert.Equal("platform@acme.corp", json.RootElement.GetProperty("owner").GetString());
            Assert.DoesNotContain("never-fetched", json.RootElement.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        }

        // acme.corp rotates and revokes its old X.509 authority: payments drops it within one refresh.
        var old = (await acme.BundleAsync()).ToX509Bundle().Authorities.Single();
        await acme.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });

        // As the rotation schedule does (prepare at half life, activate much later): the peer
        // learns the prepared authority before it signs anything, including the endpoint's SVID.
        var prepared = (await acme.BundleAsync()).SequenceNumber!.Value;
        clock.Restart();
        await WaitAsync(payments, TestServer.Td, s => s.Sequence == prepared);
        output.WriteLine($"prepared authority reached payments.acme.corp in {clock.ElapsedMilliseconds} ms");
        await acme.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await acme.Admin.TaintAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        await acme.Admin.RevokeAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        clock.Restart();
        await WaitAsync(payments, TestServer.Td, _ => !HasAuthority(payments, TestServer.Td, old));
        output.WriteLine($"revocation in acme.corp reached payments.acme.corp in {clock.ElapsedMilliseconds} ms (refresh hint 2 s, floor 1 s)");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2 + 5), $"took {clock.Elapsed}");

        // payments' endpoint goes down: acme keeps the last bundle, records the error, and
        // marks the relationship stale once maxStaleness (3 s) has passed.
        var kept = (await acme.Server.Store.GetBundleAsync(Payments, CancellationToken.None))!.Bundle;
        await domains.StopPaymentsAsync();
        clock.Restart();
        var stale = await WaitAsync(acme, Payments, s => s.Flags.Contains(FederationStatusView.Stale) && s.LastError.Length > 0);
        output.WriteLine($"stale after {clock.ElapsedMilliseconds} ms; last error: {stale.LastError}");
        var still = (await acme.Server.Store.GetBundleAsync(Payments, CancellationToken.None))!.Bundle;
        Assert.Equal(kept.SequenceNumber, still.SequenceNumber);

        var inventory = await acme.CliAsync("federation", "list", "--output", "json");
        Assert.Contains("\"stale\"", inventory.Out, StringComparison.Ordinal);
    }

    private static bool HasAuthority(TestServer server, TrustDomain td, System.Security.Cryptography.X509Certificates.X509Certificate2 authority)
    {
        var stored = server.Server.Store.GetBundleAsync(td, CancellationToken.None).GetAwaiter().GetResult();
        return stored is not null && stored.Bundle.ToX509Bundle().Contains(authority);
    }
}
