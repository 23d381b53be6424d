using System.Diagnostics;
using System.Text.Json;
using Anchorage.Hosting.Config;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Two servers of two trust domains federate in both directions from YAML (https_spiffe,
/// bootstrapped from each other's bundle): refresh, revocation and endpoint outage, measured.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationEndToEndTests(ITestOutputHelper output)
{
    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.acme.corp");

    [Fact]
    public async Task TwoServers_FederateFromYaml_RefreshRevocationAndOutageBehave()
    {
        using var dir = new TempDir();
        await using var acme = await StartAsync(dir, "acme", TestServer.Td);
        var paymentsOptions = Options(dir, "payments", Payments);
        var payments = await TestServer.StartAsync(paymentsOptions);
        try
        {
            await ApplyAsync(acme, dir, Payments, payments);
            await ApplyAsync(payments, dir, TestServer.Td, acme);

            // Both directions converge on the peer's current sequence.
            var clock = Stopwatch.StartNew();
            var paymentsSeq = (await PaymentsBundleAsync(payments)).SequenceNumber!.Value;
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
            await payments.DisposeAsync();
            clock.Restart();
            var stale = await WaitAsync(acme, Payments, s => s.Flags.Contains(FederationStatusView.Stale) && s.LastError.Length > 0);
            output.WriteLine($"stale after {clock.ElapsedMilliseconds} ms; last error: {stale.LastError}");
            var still = (await acme.Server.Store.GetBundleAsync(Payments, CancellationToken.None))!.Bundle;
            Assert.Equal(kept.SequenceNumber, still.SequenceNumber);

            var inventory = await acme.CliAsync("federation", "list", "--output", "json");
            Assert.Contains("\"stale\"", inventory.Out, StringComparison.Ordinal);
        }
        finally
        {
            await payments.DisposeAsync();
        }
    }

    private static bool HasAuthority(TestServer server, TrustDomain td, System.Security.Cryptography.X509Certificates.X509Certificate2 authority)
    {
        var stored = server.Server.Store.GetBundleAsync(td, CancellationToken.None).GetAwaiter().GetResult();
        return stored is not null && stored.Bundle.ToX509Bundle().Contains(authority);
    }

    private static async Task<SpiffeBundle> PaymentsBundleAsync(TestServer payments)
    {
        var bundle = await payments.Admin.GetBundleAsync(new GetBundleRequest());
        return SpiffeBundle.Parse(Payments, bundle.SpiffeBundleJson.Span);
    }

    private static ServerOptions Options(TempDir dir, string name, TrustDomain td)
    {
        var dataDir = Path.Combine(dir.Path, name);
        Directory.CreateDirectory(dataDir);
        var options = TestServer.Options(dataDir);
        return options with
        {
            TrustDomain = td,
            Bundle = options.Bundle with { RefreshHint = TimeSpan.FromSeconds(2) },
            Federation = new FederationOptions
            {
                RefreshFloor = TimeSpan.FromSeconds(1),
                BundleEndpoint = new BundleEndpointOptions { Listen = new HostPort("127.0.0.1", 0), Profile = BundleEndpointProfile.HttpsSpiffe },
            },
        };
    }

    private static Task<TestServer> StartAsync(TempDir dir, string name, TrustDomain td) => TestServer.StartAsync(Options(dir, name, td));

    // The YAML an operator writes, applied with the CLI: bootstrapped from the peer's current bundle.
    private static async Task ApplyAsync(TestServer local, TempDir dir, TrustDomain peerTd, TestServer peer)
    {
        var bundle = await peer.Admin.GetBundleAsync(new GetBundleRequest());
        var json = System.Text.Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span);
        var file = Path.Combine(dir.Path, $"{peerTd.Name}.yaml");
        await File.WriteAllTextAsync(file, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {peerTd.Name}
            spec:
              trustDomain: {peerTd.Name}
              owner: platform@acme.corp
              bundleEndpoint:
                url: https://127.0.0.1:{peer.Server.Host.BundleEndpoint!.Port}/
                profile: https_spiffe
                endpointSPIFFEID: spiffe://{peerTd.Name}/anchorage/server
                bootstrapBundle: '{json.Replace("'", "''", StringComparison.Ordinal)}'
              maxStaleness: 3s
            """);
        var result = await local.CliAsync("federation", "apply", "-f", file);
        Assert.True(result.ExitCode == 0, result.Error + result.Out);
    }

    private static async Task<Protos.Admin.V1.FederationStatus> WaitAsync(
        TestServer server, TrustDomain td, Func<Protos.Admin.V1.FederationStatus, bool> done)
    {
        var clock = Stopwatch.StartNew();
        Protos.Admin.V1.FederationStatus status;
        do
        {
            status = await server.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = td.Name });
            if (done(status))
            {
                return status;
            }

            await Task.Delay(100);
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(30));

        Assert.Fail($"federation with {td.Name} did not converge: sequence {status.Sequence}, last error \"{status.LastError}\", flags [{string.Join(",", status.Flags)}]");
        return status;
    }
}
