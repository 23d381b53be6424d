using System.Diagnostics;
using Anchorage.Foundation.Config;
using Anchorage.IntegrationTests.Agent;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Config;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;
using Anchorage.WorkloadApi;

namespace Anchorage.IntegrationTests.Federation;

/// <summary>
/// Two in-process servers of two trust domains (acme.corp and payments.acme.corp), each with an
/// https_spiffe bundle endpoint on 127.0.0.1:0, refresh hint 2 s and refresh floor 1 s; helpers to
/// federate them from YAML with the CLI, start agents with federating workload entries, and poll.
/// Everything runs on loopback in one process (no network namespaces).
/// </summary>
internal sealed class TwoDomains : IAsyncDisposable
{
    public static readonly TrustDomain AcmeTd = TestServer.Td;
    public static readonly TrustDomain PaymentsTd = TrustDomain.Parse("payments.acme.corp");

    private readonly List<IAsyncDisposable> _owned = [];
    private TestServer? _payments;

    private TwoDomains(TempDir dir, TestServer acme, TestServer payments)
    {
        Dir = dir;
        Acme = acme;
        _payments = payments;
    }

    public TempDir Dir { get; }

    public TestServer Acme { get; }

    public TestServer Payments => _payments ?? throw new InvalidOperationException("payments was stopped");

    /// <summary>
    /// Starts both servers; <paramref name="acmeCa"/> overrides acme.corp's CA options, <paramref name="configureAcme"/>
    /// any other of its options (e.g. the web console).
    /// </summary>
    public static async Task<TwoDomains> StartAsync(CaOptions? acmeCa = null, Func<ServerOptions, ServerOptions>? configureAcme = null)
    {
        var dir = new TempDir();
        TestServer? acme = null;
        try
        {
            var acmeOptions = Options(dir, "acme", AcmeTd);
            acmeOptions = acmeCa is null ? acmeOptions : acmeOptions with { Ca = acmeCa };
            acme = await TestServer.StartAsync(configureAcme is null ? acmeOptions : configureAcme(acmeOptions));
            var payments = await TestServer.StartAsync(Options(dir, "payments", PaymentsTd));
            return new TwoDomains(dir, acme, payments);
        }
        catch
        {
            if (acme is not null)
            {
                await acme.DisposeAsync();
            }

            dir.Dispose();
            throw;
        }
    }

    /// <summary>The server of <paramref name="td"/>.</summary>
    public TestServer Of(TrustDomain td) => td == AcmeTd ? Acme : Payments;

    /// <summary>The server's trust bundle as its admin API serves it, parsed for its own trust domain.</summary>
    public static async Task<SpiffeBundle> BundleOfAsync(TestServer server, TrustDomain td)
    {
        var bundle = await server.Admin.GetBundleAsync(new GetBundleRequest());
        return SpiffeBundle.Parse(td, bundle.SpiffeBundleJson.Span);
    }

    public static ServerOptions Options(TempDir dir, string name, TrustDomain td)
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

    /// <summary>
    /// The YAML an operator writes, applied to <paramref name="local"/> with the CLI: an https_spiffe
    /// relationship with <paramref name="peerTd"/> served by <paramref name="peer"/>, bootstrapped from its current bundle.
    /// </summary>
    public async Task ApplyAsync(TestServer local, TrustDomain peerTd, TestServer peer, bool approve = true)
    {
        var bundle = await peer.Admin.GetBundleAsync(new GetBundleRequest());
        var json = System.Text.Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span);
        await ApplyYamlAsync(local, peerTd, $"""
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
            """, approve);
    }

    /// <summary>Writes <paramref name="yaml"/> to a file and runs <c>anchorage federation apply -f FILE</c> against <paramref name="local"/>.</summary>
    /// <remarks>With <paramref name="approve"/> (the default) it then runs <c>anchorage federation approve</c>, as an operator must before agents receive the bundle.</remarks>
    public async Task ApplyYamlAsync(TestServer local, TrustDomain peerTd, string yaml, bool approve = true)
    {
        var file = Path.Combine(Dir.Path, $"{peerTd.Name}-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        var result = await local.CliAsync("federation", "apply", "-f", file);
        Assert.True(result.ExitCode == 0, result.Error + result.Out);
        if (approve)
        {
            var approved = await local.CliAsync("federation", "approve", peerTd.Name, "--note", "test harness");
            Assert.True(approved.ExitCode == 0, approved.Error + approved.Out);
        }
    }

    /// <summary>Federates both ways and waits until each side stores the other's current bundle.</summary>
    public async Task FederateBothWaysAsync()
    {
        await ApplyAsync(Acme, PaymentsTd, Payments);
        await ApplyAsync(Payments, AcmeTd, Acme);
        var paymentsSeq = (await BundleOfAsync(Payments, PaymentsTd)).SequenceNumber!.Value;
        await WaitAsync(Acme, PaymentsTd, s => s.Sequence == paymentsSeq && s.LastRefresh > 0);
        var acmeSeq = (await BundleOfAsync(Acme, AcmeTd)).SequenceNumber!.Value;
        await WaitAsync(Payments, AcmeTd, s => s.Sequence == acmeSeq && s.LastRefresh > 0);
    }

    /// <summary>
    /// Starts an agent of <paramref name="server"/> (trust domain <paramref name="td"/>) with one
    /// entry for this process's uid at <paramref name="path"/>, federating with <paramref name="federatesWith"/>.
    /// </summary>
    public async Task<Workload> WorkloadAsync(TrustDomain td, string path, params TrustDomain[] federatesWith)
    {
        var server = Of(td);
        var (token, agentId) = await TestAgent.TokenAsync(server);
        await NodeParts.EntryAsync(server, agentId, path, [$"unix:uid:{TestServer.OwnUid()}"], federatesWith);
        var agent = await TestAgent.StartAsync(server, token, o => o with { TrustDomain = td });
        _owned.Insert(0, agent);
        var client = new WorkloadApiClient("unix://" + agent.Socket);
        _owned.Insert(0, client);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var source = await X509Source.CreateAsync(client, cancellationToken: timeout.Token);
        _owned.Insert(0, source);
        return new Workload(SpiffeId.FromPath(td, path), agent, client, source);
    }

    /// <summary>Stops payments.acme.corp's server (idempotent).</summary>
    public async Task StopPaymentsAsync()
    {
        if (_payments is { } payments)
        {
            _payments = null;
            await payments.DisposeAsync();
        }
    }

    /// <summary>Polls <paramref name="server"/>'s GetFederation for <paramref name="td"/> every 100 ms until <paramref name="done"/> (30 s bound).</summary>
    public static async Task<Protos.Admin.V1.FederationStatus> WaitAsync(
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

    /// <summary>Polls <paramref name="condition"/> every 50 ms until true (bound <paramref name="seconds"/>); returns the time it took.</summary>
    public static Task<TimeSpan> UntilAsync(Func<bool> condition, string what, int seconds = 30) =>
        Eventually.TrueAsync(condition, what, TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(50));

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await StopPaymentsAsync();
        await Acme.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>A workload: its SPIFFE ID, the agent serving it, and an SDK client and X509Source over the agent's socket.</summary>
internal sealed record Workload(SpiffeId Id, TestAgent Agent, WorkloadApiClient Client, X509Source Source)
{
    /// <summary>True when the workload's X509Source holds a bundle for <paramref name="td"/>.</summary>
    public bool Has(TrustDomain td) => Source.TryGetX509Bundle(td, out _);

    /// <summary>The X.509 bundle the workload holds for <paramref name="td"/>, or null.</summary>
    public X509Bundle? BundleFor(TrustDomain td) => Source.TryGetX509Bundle(td, out var bundle) ? bundle : null;
}
