using System.Collections.Concurrent;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Ca;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;
using Anchorage.Testing;
using Grpc.Core;
using Xunit.Abstractions;

namespace Anchorage.IntegrationTests;

/// <summary>
/// <c>anchorage server run</c> as a real process, SIGKILLed at random moments while the test drives
/// it through the admin socket, then restarted on the same data dir: nothing acknowledged is lost.
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class CrashSafetyTests(ITestOutputHelper output)
{
    private const int Rounds = 3;

    [Fact]
    public async Task ServerRun_SigkillAtRandomMomentsThenRestart_KeepsEverythingAcknowledged()
    {
        var seed = Random.Shared.Next();
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        using var dir = new TempDir();
        var socket = Path.Combine(dir.Path, "admin.sock");
        var config = Path.Combine(dir.Path, "server.yaml");
        await File.WriteAllTextAsync(config, $"""
            trustDomain: acme.corp
            dataDir: {dir.Path}
            adminUids: [{TestServer.OwnUid()}]
            listen:
              agentApi: 127.0.0.1:0
              health: 127.0.0.1:0
            ca:
              caTtl: 2m
              x509SvidTtl: 20s
              jwtSvidTtl: 20s
            """);
        await ServerProcess.CliDllAsync();

        var acknowledged = new Acknowledged();
        for (var round = 1; round <= Rounds; round++)
        {
            using var server = await ServerProcess.StartAsync(config);
            try
            {
                await server.WaitHealthyAsync(socket, TimeSpan.FromSeconds(60));
                await CheckAsync(dir.Path, socket, acknowledged);
                AssertNoErrorsLogged(server.Output);

                using var channel = TestServer.AdminChannel(socket);
                var admin = new AdminApi.AdminApiClient(channel);
                var killed = new CancellationTokenSource();
                var driver = DriveAsync(admin, round, acknowledged, killed.Token);
                var killAfter = TimeSpan.FromMilliseconds(random.Next(300, 2500));
                await Task.WhenAny(driver, Task.Delay(killAfter));
                Assert.False(driver.IsCompleted, $"the driver stopped before the kill: {driver.Exception}\n{server.Output}");
                await killed.CancelAsync();
                server.Kill();
                await driver.WaitAsync(TimeSpan.FromSeconds(30));
                output.WriteLine($"round {round}: killed after {killAfter.TotalMilliseconds} ms; {acknowledged.Entries.Count} entries, {acknowledged.Svids.Count} svids, {acknowledged.Rotations} rotation steps acknowledged so far");
            }
            catch
            {
                output.WriteLine(server.Output);
                throw;
            }
        }

        using var last = await ServerProcess.StartAsync(config);
        try
        {
            await last.WaitHealthyAsync(socket, TimeSpan.FromSeconds(60));
            await CheckAsync(dir.Path, socket, acknowledged);
            Assert.NotEmpty(acknowledged.Entries);
            Assert.NotEmpty(acknowledged.Svids);
            AssertNoErrorsLogged(last.Output);
        }
        catch
        {
            output.WriteLine(last.Output);
            throw;
        }
    }

    /// <summary>Admin calls in a loop until <paramref name="killed"/>: entries, X.509 mints, prepare / activate.</summary>
    private static async Task DriveAsync(AdminApi.AdminApiClient admin, int round, Acknowledged acknowledged, CancellationToken killed)
    {
        await Task.Yield();
        for (var i = 0; ; i++)
        {
            try
            {
                var create = new CreateEntriesRequest();
                for (var k = 0; k < 3; k++)
                {
                    create.Entries.Add(new Protos.Common.V1.Entry
                    {
                        SpiffeId = $"spiffe://acme.corp/w/{round}/{i}/{k}",
                        ParentId = "spiffe://acme.corp/agent",
                        Selectors = { new Protos.Common.V1.Selector { Type = "unix", Value = "uid:1000" } },
                    });
                }

                var created = await admin.CreateEntriesAsync(create, deadline: Deadline(), cancellationToken: killed);
                foreach (var result in created.Results)
                {
                    Assert.True(result.ErrorCode == 0, result.Error);
                    acknowledged.Entries[result.Entry.Id] = result.Entry.SpiffeId;
                }

                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var minted = await admin.MintX509SvidAsync(
                    new MintX509SvidRequest { SpiffeId = $"spiffe://acme.corp/minted/{round}/{i}", Csr = TestServer.Csr(key) }, deadline: Deadline(), cancellationToken: killed);
                acknowledged.Svids.Add([.. minted.Svid.CertChain.Select(c => c.ToByteArray())]);

                if (i % 3 == 1)
                {
                    await RotateAsync(admin, killed);
                    Interlocked.Increment(ref acknowledged.Rotations);
                }
            }
            catch (Exception ex) when (killed.IsCancellationRequested && ex is RpcException or OperationCanceledException)
            {
                return; // the server is being killed: calls in flight were not acknowledged
            }
        }
    }

    // Prepare the next X.509 authority, or activate the one a previous round (or the timer) prepared.
    private static async Task RotateAsync(AdminApi.AdminApiClient admin, CancellationToken killed)
    {
        try
        {
            await admin.PrepareAuthorityAsync(new AuthorityRequest { Kind = "x509" }, deadline: Deadline(), cancellationToken: killed);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition && ex.Status.Detail.Contains("is already prepared", StringComparison.Ordinal))
        {
            await admin.ActivateAuthorityAsync(new AuthorityRequest { Kind = "x509" }, deadline: Deadline(), cancellationToken: killed);
        }
    }

    /// <summary>After a restart: every acknowledged entry exists, every journalled authority has its key, every unexpired SVID verifies.</summary>
    private async Task CheckAsync(string dataDir, string socket, Acknowledged acknowledged)
    {
        using var channel = TestServer.AdminChannel(socket);
        var admin = new AdminApi.AdminApiClient(channel);

        var entries = new Dictionary<string, string>();
        var request = new ListEntriesRequest { PageSize = 500 };
        do
        {
            var page = await admin.ListEntriesAsync(request, deadline: Deadline());
            foreach (var entry in page.Entries)
            {
                entries[entry.Id] = entry.SpiffeId;
            }

            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        foreach (var (id, spiffeId) in acknowledged.Entries)
        {
            Assert.True(entries.TryGetValue(id, out var stored), $"acknowledged entry {id} ({spiffeId}) is gone");
            Assert.Equal(spiffeId, stored);
        }

        var keys = new DiskKeyManager(dataDir);
        var active = 0;
        foreach (var kind in (string[])["x509", "jwt"])
        {
            var authorities = (await admin.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = kind }, deadline: Deadline())).Authorities;
            Assert.NotEmpty(authorities);
            active += authorities.Count(a => a.State == "active");
            foreach (var authority in authorities)
            {
                using var key = await keys.GetAsync(AuthorityKeyIds.For(kind == "x509" ? AuthorityKind.X509 : AuthorityKind.Jwt, authority.Id));
                Assert.True(key is not null, $"{kind} authority {authority.Id} ({authority.State}) has no key");
                if (kind == "x509")
                {
                    using var cert = X509CertificateLoader.LoadCertificate(authority.Certificate.Span);
                    Assert.Equal(cert.PublicKey.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
                }
            }
        }

        Assert.Equal(2, active);

        var bundle = await admin.GetBundleAsync(new GetBundleRequest(), deadline: Deadline());
        var x509 = Spiffe.Bundles.SpiffeBundle.Parse(TestServer.Td, bundle.SpiffeBundleJson.Span).ToX509Bundle();
        var now = TimeProvider.System.GetUtcNow();
        var verifier = new X509SvidVerifier();
        int verified = 0, expired = 0;
        foreach (var chain in acknowledged.Svids)
        {
            var certificates = chain.Select(c => X509CertificateLoader.LoadCertificate(c)).ToList();
            if (certificates[0].NotAfter.ToUniversalTime() <= now.UtcDateTime.AddSeconds(1))
            {
                expired++;
                continue;
            }

            try
            {
                verifier.Verify(certificates, x509);
                verified++;
            }
            catch (SvidValidationException ex)
            {
                Assert.Fail($"svid {certificates[0].SerialNumber} ({certificates[0].Subject}) no longer verifies: {ex.Message}");
            }
        }

        output.WriteLine($"check: {acknowledged.Entries.Count} entries present, {verified} svids verified, {expired} expired");
    }

    // A restart after SIGKILL is routine: it must not log errors (a missing key, a failed rotation).
    private static void AssertNoErrorsLogged(string log)
    {
        var errors = log.Split('\n').Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, "the server logged errors:\n" + string.Join('\n', errors));
    }

    private static DateTime Deadline() => TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(15);

    private sealed class Acknowledged
    {
        public int Rotations;

        public ConcurrentDictionary<string, string> Entries { get; } = new();

        public ConcurrentBag<byte[][]> Svids { get; } = [];
    }
}
