using System.Security.Cryptography.X509Certificates;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Tests.DataStore;
using Anchorage.Testing.Postgres;

namespace Anchorage.Server.Tests.Ca;

/// <summary>
/// Two servers sharing one datastore: server A revokes the authority server B prepared while B
/// activates it. Whichever wins, the journal, the published bundle and B's signing agree, and a
/// revoked authority never comes back (not by the activation, not by a later rotation check).
/// </summary>
public class CaManagerHaRaceTests
{
    private const int Rounds = 12;

    [Fact]
    [Trait("Category", "Slow")]
    public async Task RevokeVsActivate_TwoServersOnSqlite_RevokedAuthorityNeverReturns()
    {
        await using var harness = new CaHarness();
        await RaceAsync(harness);
    }

    [PostgresFact]
    [Trait("Category", "Slow")]
    public async Task RevokeVsActivate_TwoServersOnPostgres_RevokedAuthorityNeverReturns()
    {
        await using var backend = new PostgresTestBackend();
        await backend.InitializeAsync();
        await using var harness = new CaHarness(storeOptions: backend.Options);
        await RaceAsync(harness);
    }

    private static async Task RaceAsync(CaHarness harness)
    {
        var a = await harness.StartAsync(CaHarness.Options("server-a"));
        var b = await harness.StartAsync(CaHarness.Options("server-b"));
        var revoked = new List<string>();
        var activated = new List<string>();
        for (var round = 0; round < Rounds; round++)
        {
            var prepared = await b.PrepareAsync(AuthorityKind.X509, CancellationToken.None);
            using var gate = new Barrier(2);
            var revoke = Task.Run(async () =>
            {
                gate.SignalAndWait();
                return await Outcome(() => a.RevokeAsync(AuthorityKind.X509, prepared.Id, CancellationToken.None));
            });
            var activate = Task.Run(async () =>
            {
                gate.SignalAndWait();
                return await Outcome(() => b.ActivateAsync(AuthorityKind.X509, prepared.Id, CancellationToken.None));
            });
            var (revokedIt, activatedIt) = (await revoke, await activate);
            Assert.True(revokedIt ^ activatedIt, $"round {round}: revoke {revokedIt}, activate {activatedIt}");
            (revokedIt ? revoked : activated).Add(prepared.Id);

            // Both servers run their rotation check (which publishes from the journal) after the race.
            await a.CheckRotationAsync(CancellationToken.None);
            await b.CheckRotationAsync(CancellationToken.None);
            await AssertAgreeAsync(a, b, revoked, activated, round);
        }

        await harness.TickAsync(a, b);
        await AssertAgreeAsync(a, b, revoked, activated, Rounds);
        Assert.Equal(Rounds, revoked.Count + activated.Count);
    }

    private static async Task AssertAgreeAsync(CaManager a, CaManager b, List<string> revoked, List<string> activated, int round)
    {
        foreach (var server in new[] { a, b })
        {
            var journal = (await server.ListAuthoritiesAsync(AuthorityKind.X509, CancellationToken.None)).Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
            var bundle = CaHarness.X509(await server.GetBundleAsync(CancellationToken.None)).Authorities
                .Select(c => c.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifier!.ToLowerInvariant())
                .ToHashSet(StringComparer.Ordinal);
            foreach (var id in revoked)
            {
                Assert.False(journal.Contains(id), $"round {round}: revoked {id} is back in {server.ServerId}'s journal");
                Assert.False(bundle.Contains(id), $"round {round}: revoked {id} is back in the bundle {server.ServerId} reads");
            }

            foreach (var id in activated)
            {
                Assert.True(journal.Contains(id), $"round {round}: activated {id} missing from the journal");
                Assert.True(bundle.Contains(id), $"round {round}: activated {id} missing from the bundle");
            }
        }

        Assert.DoesNotContain(b.ActiveX509Authority!.Id, revoked);
        if (activated.Count > 0)
        {
            Assert.Equal(activated[^1], b.ActiveX509Authority.Id);
        }
    }

    private static async Task<bool> Outcome(Func<Task<AuthorityRecord>> call)
    {
        try
        {
            await call();
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or DataStoreNotFoundException)
        {
            return false;
        }
    }
}
