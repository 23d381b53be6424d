using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Anchorage.Spiffe.Authorization;
using Anchorage.Spiffe.Tls;
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
        Assert.True(updates >= 1);
        Assert.True(payments.Has(PaymentsTd));
        Assert.Null(await domains.Payments.Server.Store.GetBundleAsync(AcmeTd, CancellationToken.None));

        // A fresh fetch agrees with the watch.
        var context = await payments.Client.FetchX509ContextAsync();
        Assert.False(context.Bundles.TryGetX509Bundle(AcmeTd, out _));
        Assert.True(context.Bundles.TryGetX509Bundle(PaymentsTd, out _));
    }

    // One mTLS connection over loopback between two workloads' SVIDs and bundles (SpiffeTls), each
    // side authorizing exactly the other's ID; returns the peer ID each side saw.
    private static async Task<(Spiffe.Ids.SpiffeId ClientSaw, Spiffe.Ids.SpiffeId ServerSaw)> HandshakeAsync(Workload client, Workload server)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        async Task<Spiffe.Ids.SpiffeId> ServeAsync()
        {
            using var tcp = await listener.AcceptTcpClientAsync(timeout.Token);
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsServerAsync(SpiffeTls.MtlsServer(server.Source, server.Source, Authorizer.Exact(client.Id)), timeout.Token);
            var buffer = new byte[4];
            await tls.ReadExactlyAsync(buffer, timeout.Token);
            await tls.WriteAsync(buffer, timeout.Token);
            return SpiffeTls.PeerId(tls);
        }

        async Task<Spiffe.Ids.SpiffeId> ConnectAsync()
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            await using var tls = new SslStream(tcp.GetStream());
            await tls.AuthenticateAsClientAsync(SpiffeTls.MtlsClient(client.Source, client.Source, Authorizer.Exact(server.Id)), timeout.Token);
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
}
