using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;
using Anchorage.Spiffe.Tls;
using Anchorage.Testing.X509;
using Xunit.Abstractions;
using static Anchorage.IntegrationTests.Federation.TwoDomains;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Federation scenarios end to end (issue 5 item 7), in-process on loopback: two servers, an agent
/// per workload, and workloads using the SDK (WorkloadApiClient, X509Source, SpiffeTls).
/// Convergence times are printed.
/// </summary>
[Trait("Category", "Slow")]
public sealed class FederationScenarioTests(ITestOutputHelper output)
{
    // (c) A workload in each domain authenticates the other over mTLS with the bundles its agent hands
    // out; a workload whose entry does not federate with acme.corp gets no acme.corp bundle and fails.
    [Fact]
    public async Task Workloads_FederatedBothWays_MutualTlsSeesPeerIds_NotFederatedWorkloadFails()
    {
        await using var domains = await TwoDomains.StartAsync();
        var acme = await domains.WorkloadAsync(AcmeTd, "/orders", PaymentsTd);
        var payments = await domains.WorkloadAsync(PaymentsTd, "/ledger", AcmeTd);
        var loner = await domains.WorkloadAsync(PaymentsTd, "/loner");

        var clock = Stopwatch.StartNew();
        await domains.ApplyAsync(domains.Acme, PaymentsTd, domains.Payments);
        await domains.ApplyAsync(domains.Payments, AcmeTd, domains.Acme);
        var toAcme = await UntilAsync(() => acme.Has(PaymentsTd), "payments.acme.corp's bundle in acme.corp's workload");
        var toPayments = await UntilAsync(() => payments.Has(AcmeTd), "acme.corp's bundle in payments.acme.corp's workload");
        output.WriteLine($"federation applied -> peer bundle in both workloads' X509Source: {clock.ElapsedMilliseconds} ms " +
            $"(acme side {toAcme.TotalMilliseconds:F0} ms, then payments side +{toPayments.TotalMilliseconds:F0} ms)");

        // Each workload holds its own bundle and exactly the federated one its entry names.
        Assert.True(acme.Has(AcmeTd) && payments.Has(PaymentsTd));
        Assert.False(loner.Has(AcmeTd));

        var (clientSaw, serverSaw) = await HandshakeAsync(client: acme, server: payments);
        Assert.Equal(payments.Id, clientSaw);
        Assert.Equal(acme.Id, serverSaw);

        // Positive control for the negative case: the same client against the loner fails only
        // because the loner has no acme.corp bundle (acme.corp trusts payments.acme.corp's CA, which signed the loner).
        var failure = await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(client: acme, server: loner));
        output.WriteLine($"not-federated workload: handshake failed as expected: {failure.GetType().Name}: {failure.Message}");
        Assert.False(loner.Has(AcmeTd));
    }

    // (h) The relationship is deleted with the CLI: the watching workload's X509Source updates without
    // acme.corp's bundle and the server no longer stores it.
    [Fact]
    public async Task FederationDelete_WithCli_WorkloadLosesPeerBundle_ServerDropsIt()
    {
        await using var domains = await TwoDomains.StartAsync();
        await domains.ApplyAsync(domains.Payments, AcmeTd, domains.Acme);
        var payments = await domains.WorkloadAsync(PaymentsTd, "/ledger", AcmeTd);
        await UntilAsync(() => payments.Has(AcmeTd), "acme.corp's bundle in payments.acme.corp's workload");
        Assert.NotNull(await domains.Payments.Server.Store.GetBundleAsync(AcmeTd, CancellationToken.None));

        var updates = 0;
        payments.Source.Updated += (_, _) => Interlocked.Increment(ref updates);
        var clock = Stopwatch.StartNew();
        var result = await domains.Payments.CliAsync("federation", "delete", AcmeTd.Name);
        Assert.True(result.ExitCode == 0, result.Error + result.Out);

        await UntilAsync(() => !payments.Has(AcmeTd), "acme.corp's bundle to leave payments.acme.corp's workload");
        output.WriteLine($"federation delete -> bundle gone from the watching workload in {clock.ElapsedMilliseconds} ms ({updates} update(s))");
        // The source publishes its new state, then raises Updated: the event can come just after.
        await UntilAsync(() => Volatile.Read(ref updates) >= 1, "the watching workload's Updated event");
        Assert.True(payments.Has(PaymentsTd));
        Assert.Null(await domains.Payments.Server.Store.GetBundleAsync(AcmeTd, CancellationToken.None));

        // A fresh fetch agrees with the watch.
        var context = await payments.Client.FetchX509ContextAsync();
        Assert.False(context.Bundles.TryGetX509Bundle(AcmeTd, out _));
        Assert.True(context.Bundles.TryGetX509Bundle(PaymentsTd, out _));
    }

    // (d) acme.corp rotates its X.509 CA (prepare, wait until payments' workload holds the prepared
    // authority, activate) while payments' workload verifies acme.corp's workload SVID, fetched fresh
    // every 200 ms, with the federated bundle its own agent hands out: no verification fails.
    // Lifetimes: caTtl 2m, x509SvidTtl 20s (the cap is caTtl/6; no floor), so the agent renews at
    // about 10 s and the whole rotation fits the test's time budget.
    [Fact]
    public async Task CaRotation_InPeerDomain_FederatedWorkloadNeverFailsToVerify()
    {
        await using var domains = await TwoDomains.StartAsync(new CaOptions
        {
            CaTtl = TimeSpan.FromMinutes(2),
            X509SvidTtl = TimeSpan.FromSeconds(20),
            JwtSvidTtl = TimeSpan.FromSeconds(20),
        });
        await domains.ApplyAsync(domains.Payments, AcmeTd, domains.Acme);
        var acme = await domains.WorkloadAsync(AcmeTd, "/orders");
        var payments = await domains.WorkloadAsync(PaymentsTd, "/ledger", AcmeTd);
        await UntilAsync(() => payments.Has(AcmeTd), "acme.corp's bundle in payments.acme.corp's workload");
        var old = (await BundleOfAsync(domains.Acme, AcmeTd)).X509Authorities.Single();

        var verifier = new X509SvidVerifier();
        var ok = 0;
        var failures = new List<string>();
        var signers = new HashSet<string>();
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var svid = (await acme.Client.FetchX509ContextAsync()).DefaultSvid;
                try
                {
                    Assert.Equal(acme.Id, verifier.Verify(svid.Certificates, payments.Source).Id);
                    Interlocked.Increment(ref ok);
                    lock (signers)
                    {
                        signers.Add(svid.Certificates[^1].Issuer);
                    }
                }
                catch (Exception ex) when (ex is SvidValidationException or BundleNotFoundException)
                {
                    lock (failures)
                    {
                        failures.Add($"{DateTimeOffset.UtcNow:O} {svid.Certificates[0].SerialNumber}: {ex.Message}");
                    }
                }

                await Task.Delay(200);
            }
        });

        await UntilAsync(() => Volatile.Read(ref ok) >= 3, "the first verifications");
        var clock = Stopwatch.StartNew();
        await domains.Acme.Admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var fresh = (await BundleOfAsync(domains.Acme, AcmeTd)).X509Authorities.Single(a => !a.Equals(old));
        var learned = await UntilAsync(() => payments.BundleFor(AcmeTd)?.Contains(fresh) == true, "the prepared authority in payments' workload");
        output.WriteLine($"prepared authority reached payments.acme.corp's workload in {learned.TotalMilliseconds:F0} ms (refresh hint 2 s, floor 1 s, agent sync 1 s)");

        await domains.Acme.Admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" });
        var freshOnly = new X509Bundle(AcmeTd, [fresh]);
        var renewed = await UntilAsync(
            () => Try(() => verifier.Verify(acme.Source.GetX509Svid().Certificates, freshOnly)),
            "acme.corp's workload SVID signed by the new authority");
        output.WriteLine($"activation -> acme.corp's workload holds an SVID of the new authority after {renewed.TotalMilliseconds:F0} ms");

        // A few more rounds on the new authority, then stop.
        var before = Volatile.Read(ref ok);
        await UntilAsync(() => Volatile.Read(ref ok) >= before + 5, "verifications after the rotation");
        await stop.CancelAsync();
        await loop;
        output.WriteLine($"rotation took {clock.Elapsed.TotalSeconds:F1} s: {ok} verifications ok, {failures.Count} failed; signers seen: {signers.Count}");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(2, signers.Count);
    }

    // (g, and b) payments federates with web.example over https_web, served by a small Kestrel endpoint
    // with a certificate from a private CA given as caBundle. A valid bundle is accepted; then garbage,
    // another domain's bundle and a sequence rollback are each rejected: the stored bundle stays and
    // lastError names what was wrong.
    [Fact]
    public async Task HttpsWebEndpoint_PrivateCa_BadResponsesRejected_LastGoodBundleKept()
    {
        await using var domains = await TwoDomains.StartAsync();
        var web = TrustDomain.Parse("web.example");
        var webCa = TestCa.CreateRoot(web.Name);
        string Doc(ulong sequence) => new SpiffeBundle(web, [webCa.Certificate], [], sequence, TimeSpan.FromSeconds(1)).ToJson();
        await using var endpoint = await WebEndpoint.StartAsync();
        endpoint.Body = Doc(5);

        var clock = Stopwatch.StartNew();
        await domains.ApplyYamlAsync(domains.Payments, web, $"""
            apiVersion: anchorage.dev/v1alpha1
            kind: FederatedTrustDomain
            metadata:
              name: {web.Name}
            spec:
              trustDomain: {web.Name}
              owner: platform@acme.corp
              bundleEndpoint:
                url: {endpoint.Url}
                profile: https_web
                caBundle: |
            {Indent(endpoint.CaPem, "      ")}
              maxStaleness: 1h
            """);
        var accepted = await WaitAsync(domains.Payments, web, s => s.Sequence == 5 && s.LastRefresh > 0);
        output.WriteLine($"https_web with a private CA: first bundle accepted in {clock.ElapsedMilliseconds} ms (has caBundle: {accepted.HasCaBundle})");
        Assert.True(accepted.HasCaBundle);
        Assert.Equal(string.Empty, accepted.LastError);

        var acmeJson = (await BundleOfAsync(domains.Acme, AcmeTd)).ToJson();
        (string What, string Body, string Expected)[] bad =
        [
            ("garbage", "this is not json {", "not a SPIFFE bundle"),
            ("another domain's bundle", acmeJson, "names trust domain acme.corp, not web.example"),
            ("sequence rollback", Doc(4), "sequence rollback from 5 to 4"),
        ];
        foreach (var (what, body, expected) in bad)
        {
            var failuresBefore = (await domains.Payments.Admin.GetFederationAsync(new GetFederationRequest { TrustDomain = web.Name })).ConsecutiveFailures;
            endpoint.Body = body;
            clock.Restart();
            var rejected = await WaitAsync(domains.Payments, web, s => s.ConsecutiveFailures > failuresBefore && s.LastError.Contains(expected, StringComparison.Ordinal));
            output.WriteLine($"{what}: rejected within {clock.ElapsedMilliseconds} ms: {rejected.LastError}");
            Assert.Equal(5UL, rejected.Sequence);
            Assert.StartsWith(endpoint.Url, rejected.LastError, StringComparison.Ordinal);
            var stored = (await domains.Payments.Server.Store.GetBundleAsync(web, CancellationToken.None))!.Bundle;
            Assert.Equal(5UL, stored.SequenceNumber);
            Assert.True(stored.ToX509Bundle().Contains(webCa.Certificate));
        }

        // Positive control on the same endpoint: a newer valid bundle is accepted again.
        endpoint.Body = Doc(6);
        var recovered = await WaitAsync(domains.Payments, web, s => s.Sequence == 6);
        Assert.Equal(0, recovered.ConsecutiveFailures);
    }

    // (i) payments' workload holds both bundles (its own and acme.corp's, with a CA acme.corp's operator
    // controls) and still refuses an SVID naming payments.acme.corp signed by acme.corp's CA: a trust
    // domain's bundle only vouches for its own IDs (X509-SVID §5.1, one bundle per trust domain).
    // The acme.corp CA is a test CA: its bundle is set on payments with the admin SetBundle (static
    // federation) holding acme.corp's real authorities plus the test CA, because no test can hold the
    // server CA's key; it stands for acme.corp's own CA, compromised or misused.
    [Fact]
    public async Task ForgedSvid_OtherDomainsIdSignedByFederatedCa_RejectedWithBothBundlesPresent()
    {
        await using var domains = await TwoDomains.StartAsync();
        // Valid now (TestCa's default clock is fixed in 2030; the agent and SDK run on the real clock).
        var now = DateTimeOffset.UtcNow;
        var rogue = TestCa.CreateRoot(AcmeTd.Name, new TestCaOptions { NotBefore = now.AddHours(-1), NotAfter = now.AddDays(1) });
        var acmeBundle = await BundleOfAsync(domains.Acme, AcmeTd);
        var withRogue = new SpiffeBundle(AcmeTd, [.. acmeBundle.X509Authorities, rogue.Certificate], acmeBundle.JwtAuthorities, acmeBundle.SequenceNumber);
        await domains.Payments.Admin.SetBundleAsync(new SetBundleRequest
        {
            TrustDomain = AcmeTd.Name,
            Content = Google.Protobuf.ByteString.CopyFromUtf8(withRogue.ToJson()),
        });
        var payments = await domains.WorkloadAsync(PaymentsTd, "/ledger", AcmeTd);
        await UntilAsync(() => payments.BundleFor(AcmeTd)?.Contains(rogue.Certificate) == true, "acme.corp's bundle in payments' workload");
        Assert.True(payments.Has(PaymentsTd));

        var verifier = new X509SvidVerifier();

        // Positive control: the CA is trusted for acme.corp's IDs through the bundle the agent handed out.
        var acmeId = rogue.IssueLeaf(new TestLeafOptions { Path = "/orders", NotBefore = now.AddHours(-1), NotAfter = now.AddHours(1) });
        Assert.Equal(SpiffeId.FromPath(AcmeTd, "/orders"), verifier.Verify(acmeId.Chain, payments.Source).Id);

        var forged = rogue.IssueLeaf(new TestLeafOptions { UriSans = [payments.Id.ToString()], NotBefore = now.AddHours(-1), NotAfter = now.AddHours(1) });
        var error = Assert.Throws<SvidValidationException>(() => verifier.Verify(forged.Chain, payments.Source));
        output.WriteLine($"forged {payments.Id} signed by an acme.corp authority: {error.Message}");
        Assert.Equal("leaf certificate does not chain to an authority of trust domain \"payments.acme.corp\"", error.Message);

        // And over mTLS: payments' workload as the server refuses the forged client SVID and accepts the control.
        var forgedSvid = new X509Svid(forged.Chain, forged.Key);
        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(
            new StaticSvid(forgedSvid), payments.Source, payments.Id, payments.Source, payments.Source, payments.Id));
        var controlSvid = new X509Svid(acmeId.Chain, acmeId.Key);
        var (_, serverSaw) = await HandshakeAsync(
            new StaticSvid(controlSvid), payments.Source, payments.Id, payments.Source, payments.Source, controlSvid.Id);
        Assert.Equal(controlSvid.Id, serverSaw);
    }

    private static bool Try(Action action)
    {
        try
        {
            action();
            return true;
        }
        catch (SvidValidationException)
        {
            return false;
        }
    }

    private static string Indent(string text, string prefix) =>
        string.Join('\n', text.Trim().Split('\n').Select(line => prefix + line));

    // One mTLS connection over loopback between two workloads' SVIDs and bundles (SpiffeTls), each
    // side authorizing exactly the other's ID; returns the peer ID each side saw.
    private static Task<(SpiffeId ClientSaw, SpiffeId ServerSaw)> HandshakeAsync(Workload client, Workload server) =>
        HandshakeAsync(client.Source, client.Source, server.Id, server.Source, server.Source, client.Id);

    // The client presents clientSvids and trusts clientBundles for serverId; the server presents
    // serverSvids and trusts serverBundles for clientId.
    private static async Task<(SpiffeId ClientSaw, SpiffeId ServerSaw)> HandshakeAsync(
        IX509SvidSource clientSvids, IX509BundleSource clientBundles, SpiffeId serverId,
        IX509SvidSource serverSvids, IX509BundleSource serverBundles, SpiffeId clientId)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        async Task<SpiffeId> ServeAsync()
        {
            using var tcp = await listener.AcceptTcpClientAsync(timeout.Token);
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(serverSvids, serverBundles, Authorizer.Exact(clientId)), timeout.Token);
            var buffer = new byte[4];
            await tls.ReadExactlyAsync(buffer, timeout.Token);
            await tls.WriteAsync(buffer, timeout.Token);
            return SpiffeTls.PeerId(tls);
        }

        async Task<SpiffeId> ConnectAsync()
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsClientAsync(SpiffeTls.MtlsClient(clientSvids, clientBundles, Authorizer.Exact(serverId)), timeout.Token);
            await tls.WriteAsync("ping"u8.ToArray(), timeout.Token);
            var buffer = new byte[4];
            await tls.ReadExactlyAsync(buffer, timeout.Token);
            Assert.Equal("ping"u8.ToArray(), buffer);
            return SpiffeTls.PeerId(tls);
        }

        var serving = ServeAsync();
        var connecting = ConnectAsync();
        try
        {
            var serverSaw = await serving;
            return (await connecting, serverSaw);
        }
        catch (AuthenticationException)
        {
            // The server refused the client: the client then fails too; observe it so nothing leaks.
            await connecting.ContinueWith(_ => { }, TaskScheduler.Default);
            throw;
        }
    }

    private sealed class StaticSvid(X509Svid svid) : IX509SvidSource
    {
        public X509Svid GetX509Svid() => svid;
    }
}
