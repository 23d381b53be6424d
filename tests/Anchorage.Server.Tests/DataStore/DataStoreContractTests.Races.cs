using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Decisions that must stick when they race other writes, each over two store instances on one
/// database (two servers sharing it): a ban against renewals, a revocation against an activation,
/// a relationship's deletion against a fetch storing its bundle.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private const int RaceTrials = 30;

    [ContractFact]
    public async Task RenewVsBan_ManyParallelRenewalsThenBan_NodeStaysBannedEveryTrial()
    {
        var second = await OpenAsync();
        var renewers = new NodeService(Store, Clock);
        var banner = new NodeService(second, Clock);
        var renewalsBeforeBan = 0;
        var renewalsRefusedAfterBan = 0;
        for (var trial = 0; trial < RaceTrials; trial++)
        {
            var agent = SpiffeId.Parse($"spiffe://example.org/anchorage/agent/join_token/race{trial}");
            await renewers.RecordAttestationAsync(agent, "join_token", "0a", Start.AddHours(1), [], None);
            using var banned = new CancellationTokenSource();
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var loops = Enumerable.Range(0, 4).Select(r => Task.Run(async () =>
            {
                for (var i = 1; ; i++)
                {
                    try
                    {
                        // The agent keeps presenting its current SVID, as a holder of a compromised node would.
                        await renewers.RenewAsync(agent, "0a", $"{r + 1:x}{i:x4}", Start.AddHours(2), None);
                        if (!banned.IsCancellationRequested)
                        {
                            Interlocked.Increment(ref renewalsBeforeBan);
                        }

                        started.TrySetResult();
                    }
                    catch (AttestationException ex) when (ex.Failure == AttestationFailure.Banned)
                    {
                        Interlocked.Increment(ref renewalsRefusedAfterBan);
                        return;
                    }
                }
            })).ToArray();

            await started.Task;
            Assert.True(await banner.BanAsync(agent, None));
            await banned.CancelAsync();
            await Task.WhenAll(loops);

            var node = await Store.GetNodeAsync(agent, None);
            Assert.True(node!.Banned, $"trial {trial}: the ban was undone by a renewal");
            var refused = await Assert.ThrowsAsync<AttestationException>(() => renewers.AuthenticateAsync(agent, "0a", None));
            Assert.Equal($"agent {agent} is banned", refused.Message);
        }

        // Positive control: the renewals really ran while the ban landed, and each renewer was refused by it.
        Assert.True(renewalsBeforeBan >= RaceTrials, $"only {renewalsBeforeBan} renewals");
        Assert.Equal(4 * RaceTrials, renewalsRefusedAfterBan);
    }

    [ContractFact]
    public async Task RenewVsBan_NoBan_RenewalsStoredAndNodeNotBanned()
    {
        var second = await OpenAsync();
        var nodes = new NodeService(Store, Clock);
        var agent = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/control");
        await nodes.RecordAttestationAsync(agent, "join_token", "0a", Start.AddHours(1), [], None);

        await Task.WhenAll(Enumerable.Range(1, 4).Select(r => Task.Run(() => new NodeService(r % 2 == 0 ? Store : second, Clock)
            .RenewAsync(agent, "0a", $"{r:x}", Start.AddHours(2), None))));

        var node = await Store.GetNodeAsync(agent, None);
        Assert.False(node!.Banned);
        Assert.Equal("a", node.CertSerial);
        Assert.Contains(node.PendingCertSerial, new[] { "1", "2", "3", "4" });
    }

    [ContractFact]
    public async Task RevokeVsActivate_TwoServersManyTrials_RevokedAuthorityNeverReturns()
    {
        var second = await OpenAsync();
        var revokedWins = 0;
        var activateWins = 0;
        for (var trial = 0; trial < RaceTrials; trial++)
        {
            var id = $"prep{trial:d3}";
            await second.CreateAuthorityAsync(X509Authority(id, AuthorityState.Prepared) with { ServerId = "server-b" }, None);
            using var gate = new Barrier(2);
            var revoke = Task.Run(() =>
            {
                gate.SignalAndWait();
                return Store.RevokeAuthorityAsync(AuthorityKind.X509, id, None);
            });
            var activate = Task.Run(() =>
            {
                gate.SignalAndWait();
                return second.ActivateAuthorityAsync(AuthorityKind.X509, id, None);
            });
            var (revoked, activated) = (await revoke, await activate);

            Assert.True(revoked ^ activated, $"trial {trial}: revoked {revoked}, activated {activated}");
            // Whatever the losing server does next (activate again, demote, publish from the journal), a revoked authority stays gone.
            Assert.False(await second.ActivateAuthorityAsync(AuthorityKind.X509, id, None));
            await second.DemoteAuthorityAsync(AuthorityKind.X509, id, None);
            var published = await second.PublishBundleAsync(Td, Journal, None);
            var record = (await Store.ListAuthoritiesAsync(None)).SingleOrDefault(a => a.Id == id);
            if (revoked)
            {
                revokedWins++;
                Assert.Null(record);
                Assert.DoesNotContain(id, KeyIds(published));
            }
            else
            {
                activateWins++;
                Assert.Equal(AuthorityState.Old, record!.State);
                Assert.Contains(id, KeyIds(published));
            }
        }

        Assert.Equal(RaceTrials, revokedWins + activateWins);
    }

    [ContractFact]
    public async Task PublishFromJournal_AfterAnotherServerRevokes_BundleIsTheJournalNow()
    {
        var second = await OpenAsync();
        await Store.CreateAuthorityAsync(X509Authority("keep", AuthorityState.Active), None);
        await Store.CreateAuthorityAsync(X509Authority("gone", AuthorityState.Prepared), None);
        var before = await second.PublishBundleAsync(Td, Journal, None);
        var staleRead = await second.ListAuthoritiesAsync(None);

        Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "gone", None));
        var after = await second.PublishBundleAsync(Td, Journal, None);

        // Positive control: the second server's earlier read still names the revoked authority; the builder sees the journal of now.
        Assert.Contains(staleRead, a => a.Id == "gone");
        Assert.Equal(["gone", "keep"], KeyIds(before));
        Assert.Equal(["keep"], KeyIds(after));
        Assert.Equal(before.Bundle.SequenceNumber + 1, after.Bundle.SequenceNumber);
    }

    [ContractFact]
    public async Task SetFederatedBundle_RelationshipDeletedDuringFetch_BundleStaysDeleted()
    {
        var peer = TrustDomain.Parse("peer.example");
        var relationship = new FederationRelationship
        {
            Endpoint = new BundleEndpoint
            {
                TrustDomain = peer,
                Url = new Uri("https://peer.example/bundle"),
                Profile = BundleEndpointProfile.HttpsWeb,
            },
            Name = "peer",
            Owner = "team",
            MaxStaleness = TimeSpan.FromHours(1),
        };
        await Store.CreateRelationshipAsync(relationship, None);
        var fetched = new SpiffeBundle(peer, [TestAuthorities.Ca("peer.example")], [], 1, null);

        Assert.NotNull(await Store.SetFederatedBundleAsync(fetched, None));
        Assert.NotNull(await Store.GetBundleAsync(peer, None));
        Assert.True(await Store.DeleteRelationshipAsync(peer, None));
        Assert.Null(await Store.SetFederatedBundleAsync(fetched, None));

        Assert.Null(await Store.GetBundleAsync(peer, None));
    }

    /// <summary>A bundle of every authority in the journal, as the CA builds one (here: one JWT key named after each record).</summary>
    private static SpiffeBundle Journal(IReadOnlyList<AuthorityRecord> journal) =>
        new(Td, [], journal.Select(a => new JwtAuthority(a.Id, TestAuthorities.Jwt("k").SubjectPublicKeyInfo.Span)), null, null);

    private static string[] KeyIds(StoredBundle bundle) => [.. bundle.Bundle.JwtAuthorities.Select(a => a.KeyId).Order(StringComparer.Ordinal)];
}
