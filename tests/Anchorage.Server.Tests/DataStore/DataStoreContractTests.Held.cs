using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Held bundle sequences (schema version 8, issue 15 item 4): an agent's report replaces only its own
/// rows, trust domains without a relationship are skipped, the full uint64 range round-trips, and the
/// rows go with the relationship.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private static readonly SpiffeId HeldOther = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/c3");

    [ContractFact]
    public async Task SetHeldBundles_ReplacesOnlyThatAgentsRows_StrangerSkipped_DeletedWithTheRelationship()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        var stranger = TrustDomain.Parse("stranger.example");

        Assert.Equal(1, await Store.SetHeldBundlesAsync(Agent, [(Payments, 4UL), (stranger, 9UL)], None));
        Assert.Equal(1, await Store.SetHeldBundlesAsync(HeldOther, [(Payments, ulong.MaxValue)], None));
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await Store.SetHeldBundlesAsync(Agent, [(Payments, 5UL)], None));

        Assert.Equal(
            [new FederationHeldBundle(Agent.ToString(), 5, Start.AddMinutes(1)), new FederationHeldBundle(HeldOther.ToString(), ulong.MaxValue, Start)],
            await Store.ListHeldBundlesAsync(Payments, None));
        Assert.Empty(await Store.ListHeldBundlesAsync(stranger, None));

        // An empty report clears that agent's rows only.
        Assert.Equal(0, await Store.SetHeldBundlesAsync(Agent, [], None));
        Assert.Equal([HeldOther.ToString()], (await Store.ListHeldBundlesAsync(Payments, None)).Select(h => h.AgentId));
        Assert.True(await Store.DeleteRelationshipAsync(Payments, None));
        Assert.Equal(0L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM federation_held")));
    }
}
