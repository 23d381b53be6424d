using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json.Nodes;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.WorkloadApi;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Issue 5's "done when", with every server and agent a separate <c>anchorage</c> process driven
/// through the CLI as an operator would: acme.corp and payments.acme.corp federate from YAML both
/// ways (https_spiffe, bootstrapped from <c>bundle show</c>); workloads fetch their bundles from
/// their own agent and openssl checks an SVID of one domain against the bundle the other domain's
/// workload received; a revocation in acme.corp reaches payments.acme.corp's workload within one
/// refresh interval (2 s hint) plus a few seconds; with acme.corp's server down, payments marks the
/// relationship stale after its maxStaleness (3 s) and keeps the last bundle; after
/// <c>federation delete</c> payments' workload no longer receives acme.corp's bundle.
/// The scenario runs over a veth pair between two network namespaces when root, else on loopback.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class FederationProcessTests(ITestOutputHelper output)
{
    private const string RefreshHint = "2s";
    private const string MaxStaleness = "3s";
    private static readonly TrustDomain Acme = TwoDomains.AcmeTd;
    private static readonly TrustDomain Payments = TwoDomains.PaymentsTd;

    /// <summary>Set to <c>loopback</c> or <c>netns</c> to choose the transport; by default netns when root, else loopback.</summary>
    public const string TransportVariable = "ANCHORAGE_TEST_FEDERATION_TRANSPORT";

    // The transport is chosen at run time and printed: network namespaces when they can be made
    // (root, iproute2), else loopback; ANCHORAGE_TEST_FEDERATION_TRANSPORT forces one.
    [Fact]
    public async Task FederateRevokeStaleDelete_ServersAndAgentsAsSeparateProcesses_AsTheIssueRequires()
    {
        var forced = Environment.GetEnvironmentVariable(TransportVariable);
        Assert.True(forced is null or "" or "loopback" or "netns", $"{TransportVariable} must be loopback or netns, not \"{forced}\"");
        var useNamespaces = forced == "netns" || (forced != "loopback" && NetworkNamespaces.Unavailable is null);
        if (!useNamespaces)
        {
            output.WriteLine(forced == "loopback"
                ? $"loopback forced by {TransportVariable}"
                : $"network namespaces unavailable ({NetworkNamespaces.Unavailable}): running on loopback");
        }

        await ServerProcess.CliDllAsync();
        var total = Stopwatch.StartNew();
        await ScenarioAsync(useNamespaces);
        output.WriteLine($"scenario took {total.Elapsed.TotalSeconds:F1} s");
    }

    private async Task ScenarioAsync(bool useNamespaces)
    {
        using var dir = new TempDir();
        using var openssl = new OpenSsl();
        var namespaces = useNamespaces ? NetworkNamespaces.Create() : null;
        ProcessDomain? acme = null;
        ProcessDomain? payments = null;
        try
        {
            output.WriteLine(namespaces is null
                ? "transport: loopback (127.0.0.1), processes in the root network namespace"
                : $"transport: network namespaces {namespaces.A} ({NetworkNamespaces.AddressA}) and {namespaces.B} ({NetworkNamespaces.AddressB}) joined by a veth pair");
            var phase = Stopwatch.StartNew();
            var starting = new[]
            {
                ProcessDomain.StartAsync(Acme, dir.Path, namespaces?.A, namespaces is null ? "127.0.0.1" : NetworkNamespaces.AddressA, RefreshHint),
                ProcessDomain.StartAsync(Payments, dir.Path, namespaces?.B, namespaces is null ? "127.0.0.1" : NetworkNamespaces.AddressB, RefreshHint),
            };
            try
            {
                await Task.WhenAll(starting);
            }
            finally
            {
                acme = starting[0].IsCompletedSuccessfully ? starting[0].Result : null;
                payments = starting[1].IsCompletedSuccessfully ? starting[1].Result : null;
            }

            output.WriteLine($"both servers healthy after {phase.ElapsedMilliseconds} ms");
            output.WriteLine($"bundle endpoints (bound, from inventory): acme.corp {acme!.BundleEndpoint}, payments.acme.corp {payments!.BundleEndpoint}");
            Assert.StartsWith(acme.Address + ":", acme.BundleEndpoint, StringComparison.Ordinal);
            Assert.DoesNotContain(":0", acme.BundleEndpoint[acme.Address.Length..], StringComparison.Ordinal);

            await FederateBothWaysAsync(acme, payments);
            await WorkloadsAsync(acme, payments, openssl, dir.Path);
        }
        catch
        {
            output.WriteLine(acme?.Logs ?? "");
            output.WriteLine(payments?.Logs ?? "");
            throw;
        }
        finally
        {
            payments?.Dispose();
            acme?.Dispose();
            namespaces?.Dispose();
        }
    }

    // Both sides apply a FederatedTrustDomain YAML naming the peer's bound endpoint and its bootstrap
    // bundle; each side's `federation show --output json` then reports the peer's current sequence.
    private async Task FederateBothWaysAsync(ProcessDomain acme, ProcessDomain payments)
    {
        var clock = Stopwatch.StartNew();
        await ApplyAsync(acme, payments);
        await ApplyAsync(payments, acme);
        var paymentsSeq = await SequenceAsync(payments);
        var acmeSeq = await SequenceAsync(acme);
        var atAcme = await UntilAsync(acme, Payments, s => Seq(s) == paymentsSeq && s["lastRefresh"] is not null, "acme.corp to fetch payments.acme.corp's bundle");
        var atPayments = await UntilAsync(payments, Acme, s => Seq(s) == acmeSeq && s["lastRefresh"] is not null, "payments.acme.corp to fetch acme.corp's bundle");
        output.WriteLine($"federation applied both ways -> each side stores the peer's current bundle: {clock.ElapsedMilliseconds} ms");

        foreach (var (status, peer, url) in new[] { (atAcme, Payments, payments.BundleEndpoint), (atPayments, Acme, acme.BundleEndpoint) })
        {
            Assert.Equal(peer.Name, status["trustDomain"]!.GetValue<string>());
            Assert.Equal("platform@acme.corp", status["owner"]!.GetValue<string>());
            Assert.Equal("https_spiffe", status["profile"]!.GetValue<string>());
            Assert.Equal($"https://{url}/", status["url"]!.GetValue<string>());
            Assert.Equal(MaxStaleness, status["maxStaleness"]!.GetValue<string>());
            Assert.Null(status["lastError"]);
            // No entry federates yet; the fresh 24-hour anchors are far from the end of their lifetime.
            Assert.Equal(["unused"], Flags(status));
        }
    }

    private async Task WorkloadsAsync(ProcessDomain acme, ProcessDomain payments, OpenSsl openssl, string dir)
    {
        var phase = Stopwatch.StartNew();
        await Task.WhenAll(acme.StartAgentAsync("/orders", Payments), payments.StartAgentAsync("/ledger", Acme));
        output.WriteLine($"both agents serving after {phase.ElapsedMilliseconds} ms");
        var fetching = new[]
        {
            acme.FetchX509Async(Path.Combine(dir, "workload-a"), d => File.Exists(Path.Combine(d, "federated_bundle.payments.acme.corp.pem"))),
            payments.FetchX509Async(Path.Combine(dir, "workload-b"), d => File.Exists(Path.Combine(d, "federated_bundle.acme.corp.pem"))),
        };
        await Task.WhenAll(fetching);
        var (fetchedA, fetchedB) = (await fetching[0], await fetching[1]);
        var svidA = Path.Combine(fetchedA, "svid.0.pem");
        var svidB = Path.Combine(fetchedB, "svid.0.pem");
        var acmeBundleInB = Path.Combine(fetchedB, "federated_bundle.acme.corp.pem");

        // openssl, an independent verifier: each domain's SVID verifies with the bundle the other domain's
        // workload received from its own agent, and not with that workload's own bundle (the control).
        Assert.Equal((0, $"{svidA}: OK\n"), Verify(openssl, acmeBundleInB, svidA));
        Assert.Equal(0, Verify(openssl, Path.Combine(fetchedA, "federated_bundle.payments.acme.corp.pem"), svidB).ExitCode);
        Assert.NotEqual(0, Verify(openssl, Path.Combine(fetchedB, "bundle.0.pem"), svidA).ExitCode);
        output.WriteLine("openssl verify: acme.corp's workload SVID OK with the acme.corp bundle payments' workload fetched; payments' SVID OK the other way");

        // Entries now federate: the relationships are no longer "unused".
        var used = await UntilAsync(payments, Acme, s => !Flags(s).Contains("unused"), "the unused flag to clear");
        Assert.Equal(1, used["federatingEntries"]!.GetValue<long>());

        await using var client = new WorkloadApiClient("unix://" + payments.WorkloadSocket);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var source = await X509Source.CreateAsync(client, cancellationToken: timeout.Token);
        Assert.True(source.TryGetX509Bundle(Acme, out _));

        await RevokeAsync(acme, payments, source, openssl, svidA, dir);
        await StaleAsync(acme, payments, source);
        await DeleteAsync(payments, source, dir);
    }

    // acme.corp rotates and revokes its first X.509 authority with the CLI: prepare, (wait for the peer
    // to learn the prepared authority, as an operator must before activating), activate, taint, revoke.
    // From the revoke, payments.acme.corp's server and its workload lose the old authority within one
    // refresh interval plus a few seconds; openssl then rejects the old SVID with the bundle the workload
    // received and accepts an SVID of the new authority (the control).
    private async Task RevokeAsync(ProcessDomain acme, ProcessDomain payments, X509Source source, OpenSsl openssl, string oldSvid, string dir)
    {
        var old = Assert.Single(SpiffeBundle.Parse(Acme, Encoding.UTF8.GetBytes((await acme.CliAsync("bundle", "show", "--format", "spiffe")).Out)).X509Authorities);

        var clock = Stopwatch.StartNew();
        await acme.CliAsync("authority", "x509", "prepare");
        var prepared = await SequenceAsync(acme);
        await UntilAsync(payments, Acme, s => Seq(s) == prepared, "payments.acme.corp to learn the prepared authority");
        output.WriteLine($"prepare -> payments.acme.corp stores sequence {prepared}: {clock.ElapsedMilliseconds} ms");
        await acme.CliAsync("authority", "x509", "activate");
        await acme.CliAsync("authority", "x509", "taint");

        clock.Restart();
        await acme.CliAsync("authority", "x509", "revoke");
        var revoked = await SequenceAsync(acme);
        TimeSpan? atServer = null;
        TimeSpan? atWorkload = null;
        while (atServer is null || atWorkload is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the revocation did not reach payments.acme.corp (server: {atServer}, workload: {atWorkload})");
            if (atServer is null && Seq(await ShowAsync(payments, Acme)) == revoked)
            {
                atServer = clock.Elapsed;
            }

            if (atWorkload is null && source.TryGetX509Bundle(Acme, out var bundle) && !bundle.Contains(old))
            {
                atWorkload = clock.Elapsed;
            }

            await Task.Delay(50);
        }

        output.WriteLine($"revoke in acme.corp -> payments.acme.corp's server stores sequence {revoked}: {atServer.Value.TotalMilliseconds:F0} ms; " +
            $"its workload's X509Source lacks the revoked authority: {atWorkload.Value.TotalMilliseconds:F0} ms (refresh hint {RefreshHint})");
        Assert.True(atWorkload < TimeSpan.FromSeconds(2 + 5), $"revocation took {atWorkload} (one refresh interval of 2 s plus 5 s allowed)");

        var fetched = await payments.FetchX509Async(Path.Combine(dir, "workload-b-after-revoke"));
        var bundleInB = Path.Combine(fetched, "federated_bundle.acme.corp.pem");
        var minted = Path.Combine(dir, "minted-a");
        await acme.CliAsync("x509", "mint", "--spiffe-id", "spiffe://acme.corp/orders", "--write", minted);
        Assert.NotEqual(0, Verify(openssl, bundleInB, oldSvid).ExitCode);
        Assert.Equal(0, Verify(openssl, bundleInB, Path.Combine(minted, "svid.pem")).ExitCode);

        // acme.corp's endpoint now serves with a server SVID of the new authority: payments keeps fetching.
        var attempt = (await ShowAsync(payments, Acme))["lastAttempt"]!.GetValue<string>();
        var after = await UntilAsync(payments, Acme, s => s["lastAttempt"]!.GetValue<string>() != attempt, "another fetch after the revocation");
        Assert.Equal(0, after["consecutiveFailures"]!.GetValue<int>());
    }

    // acme.corp's server (and its bundle endpoint) goes down: payments keeps the last bundle, records
    // the error, and `inventory --output json` marks the relationship stale once maxStaleness has passed.
    private async Task StaleAsync(ProcessDomain acme, ProcessDomain payments, X509Source source)
    {
        var before = await ShowAsync(payments, Acme);
        var lastRefresh = DateTimeOffset.Parse(before["lastRefresh"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        acme.KillAgent();
        var clock = Stopwatch.StartNew();
        acme.KillServer();
        JsonNode relationship;
        while (true)
        {
            var inventory = await payments.JsonAsync("inventory", "--output", "json");
            relationship = inventory["relationships"]!.AsArray().Single(r => r!["trustDomain"]!.GetValue<string>() == Acme.Name)!;
            if (Flags(relationship).Contains("stale"))
            {
                break;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"not stale after {clock.Elapsed}: {relationship.ToJsonString()}");
            await Task.Delay(200);
        }

        var sinceRefresh = DateTimeOffset.UtcNow - lastRefresh;
        output.WriteLine($"acme.corp's server killed -> inventory marks the relationship stale after {clock.ElapsedMilliseconds} ms " +
            $"({sinceRefresh.TotalSeconds:F1} s after its last refresh; maxStaleness {MaxStaleness}); last error: {relationship["lastError"]}");
        Assert.True(sinceRefresh >= TimeSpan.FromSeconds(3), $"stale only {sinceRefresh} after the last refresh");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3 + 5), $"stale flag took {clock.Elapsed}");
        Assert.Equal(Seq(before), Seq(relationship));
        Assert.NotNull(relationship["lastError"]);
        Assert.StartsWith($"https://{acme.BundleEndpoint}/", relationship["lastError"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(source.TryGetX509Bundle(Acme, out _), "the last good bundle must stay with the workload");
    }

    // `federation delete` in payments: its workload's X509Source updates without acme.corp's bundle, and a
    // fresh fetch by a workload process writes no federated bundle for acme.corp.
    private async Task DeleteAsync(ProcessDomain payments, X509Source source, string dir)
    {
        var clock = Stopwatch.StartNew();
        await payments.CliAsync("federation", "delete", Acme.Name);
        while (source.TryGetX509Bundle(Acme, out _))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "acme.corp's bundle stayed with payments' workload after federation delete");
            await Task.Delay(50);
        }

        output.WriteLine($"federation delete -> acme.corp's bundle gone from payments' workload in {clock.ElapsedMilliseconds} ms");
        var fetched = await payments.FetchX509Async(Path.Combine(dir, "workload-b-after-delete"));
        Assert.False(File.Exists(Path.Combine(fetched, "federated_bundle.acme.corp.pem")));
        Assert.True(File.Exists(Path.Combine(fetched, "bundle.0.pem")));
        Assert.True(source.TryGetX509Bundle(Payments, out _));
        var show = await TestServer.RunCliAsync("federation", "show", Acme.Name, "--socket", payments.AdminSocket);
        Assert.Equal(1, show.ExitCode);
    }

    // Writes the FederatedTrustDomain an operator would and applies it to `local` with the CLI.
    private static async Task ApplyAsync(ProcessDomain local, ProcessDomain peer)
    {
        var bootstrap = (await peer.CliAsync("bundle", "show", "--format", "spiffe")).Out;
        var file = Path.Combine(local.Dir, $"federation-{peer.TrustDomain.Name}.yaml");
        await File.WriteAllTextAsync(file, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {peer.TrustDomain.Name}
            spec:
              trustDomain: {peer.TrustDomain.Name}
              owner: platform@acme.corp
              bundleEndpoint:
                url: https://{peer.BundleEndpoint}/
                profile: https_spiffe
                endpointSPIFFEID: spiffe://{peer.TrustDomain.Name}/anchorage/server
                bootstrapBundle: |
            {Indent(bootstrap, "      ")}
              maxStaleness: {MaxStaleness}
            """);
        await local.CliAsync("federation", "apply", "-f", file);
        await local.CliAsync("federation", "approve", peer.TrustDomain.Name, "--note", "process scenario");
    }

    private static async Task<ulong> SequenceAsync(ProcessDomain domain) =>
        (await domain.JsonAsync("inventory", "--output", "json"))["bundleSequence"]!.GetValue<ulong>();

    private static Task<JsonNode> ShowAsync(ProcessDomain local, TrustDomain peer) =>
        local.JsonAsync("federation", "show", peer.Name, "--output", "json");

    // Polls `federation show TD --output json` on `local` every 100 ms until `done` (20 s bound).
    private static async Task<JsonNode> UntilAsync(ProcessDomain local, TrustDomain peer, Func<JsonNode, bool> done, string what)
    {
        JsonNode status = null!;
        await Eventually.TrueAsync(async () => done(status = await ShowAsync(local, peer)), () => $"{what}: {status.ToJsonString()}", TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(100));
        return status;
    }

    private static ulong Seq(JsonNode status) => status["sequence"]!.GetValue<ulong>();

    private static string[] Flags(JsonNode status) => [.. status["flags"]!.AsArray().Select(f => f!.GetValue<string>())];

    private static (int ExitCode, string Out) Verify(OpenSsl openssl, string caFile, string svid)
    {
        var result = openssl.TryRun("verify", "-CAfile", caFile, svid);
        return (result.ExitCode, result.StandardOutput);
    }

    private static string Indent(string text, string prefix) =>
        string.Join('\n', text.Trim().Split('\n').Select(line => prefix + line));
}
