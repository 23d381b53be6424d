using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Observed use (schema version 7, issue 15 item 3): agents' reports summed per trust domain, agent
/// and direction, last-seen times only moving forward, nothing stored for a trust domain without a
/// relationship, deleted with the relationship, and the table added to a database at schema version 6.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private static readonly TrustDomain UsagePeer = TrustDomain.Parse("payments.example.com");
    private static readonly SpiffeId OtherAgent = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/b2");

    private static FederationUsage Use(string direction, long allowed, long denied, DateTimeOffset? lastAllowed, DateTimeOffset? lastDenied, string td = "payments.example.com") =>
        new(TrustDomain.Parse(td), "ignored", direction, allowed, denied, lastAllowed, lastDenied, default);

    [ContractFact]
    public async Task AddUsage_TwoReports_CountsSummedLastSeenOnlyForward_PerAgentAndDirection()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);

        Assert.Equal(2, await Store.AddUsageAsync(Agent, [Use("outbound", 3, 1, Start.AddMinutes(2), Start.AddMinutes(1)), Use("inbound", 0, 2, null, Start.AddMinutes(3))], None));
        Clock.Advance(TimeSpan.FromMinutes(10));
        // A late report with an older allowed time: counts add, the last-seen time does not go back.
        Assert.Equal(1, await Store.AddUsageAsync(Agent, [Use("outbound", 2, 0, Start.AddMinutes(1), null)], None));
        Assert.Equal(1, await Store.AddUsageAsync(OtherAgent, [Use("outbound", 5, 0, Start.AddMinutes(9), null)], None));

        var usage = await Store.ListUsageAsync(UsagePeer, None);

        Assert.Equal(
            [
                (Agent.ToString(), "inbound", 0L, 2L, (DateTimeOffset?)null, (DateTimeOffset?)Start.AddMinutes(3), Start),
                (Agent.ToString(), "outbound", 5L, 1L, Start.AddMinutes(2), Start.AddMinutes(1), Start.AddMinutes(10)),
                (OtherAgent.ToString(), "outbound", 5L, 0L, Start.AddMinutes(9), null, Start.AddMinutes(10)),
            ],
            usage.Select(u => (u.AgentId, u.Direction, u.Allowed, u.Denied, u.LastAllowed, u.LastDenied, u.ReportedAt)));
        Assert.All(usage, u => Assert.Equal(UsagePeer, u.TrustDomain));
        Assert.Equal(3, (await Store.ListUsageAsync(null, None)).Count);

        // Another listener of the same agent and direction is its own row.
        Assert.Equal(1, await Store.AddUsageAsync(Agent, [Use("outbound", 1, 0, Start, null) with { Listener = "payments-tcp" }], None));
        var listeners = (await Store.ListUsageAsync(UsagePeer, None)).Where(u => u.AgentId == Agent.ToString() && u.Direction == "outbound").ToList();
        Assert.Equal([("", 5L), ("payments-tcp", 1L)], listeners.Select(u => (u.Listener, u.Allowed)));
    }

    [ContractFact]
    public async Task AddUsage_TrustDomainWithoutRelationship_NothingStored_DeletedWithTheRelationship()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);

        // Positive control in the same report: the governed trust domain is stored, the other is not.
        Assert.Equal(1, await Store.AddUsageAsync(Agent, [Use("outbound", 1, 0, Start, null, "stranger.example"), Use("outbound", 1, 0, Start, null)], None));

        Assert.Empty(await Store.ListUsageAsync(TrustDomain.Parse("stranger.example"), None));
        Assert.Single(await Store.ListUsageAsync(UsagePeer, None));
        Assert.True(await Store.DeleteRelationshipAsync(UsagePeer, None));
        Assert.Empty(await Store.ListUsageAsync(null, None));
    }

    [ContractFact]
    public async Task AddUsage_BadRow_ArgumentExceptionNothingStored()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => Store.AddUsageAsync(Agent, [Use("outbound", 1, 0, Start, null), Use("sideways", 1, 0, Start, null)], None));

        Assert.StartsWith("usage of payments.example.com: direction must be inbound or outbound, counts 0 or more and the listener at most 128 characters", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.ListUsageAsync(null, None));
    }

    [ContractFact]
    public async Task Open_DatabaseAtSchemaVersion6_UsageTableAdded()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.DisposeAsync();
        await Backend.ExecuteScalarAsync("DROP TABLE federation_usage");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_fetches");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_held");
        await Backend.ExecuteScalarAsync("DROP TABLE revoked_authorities");
        await Backend.ExecuteScalarAsync("ALTER TABLE federation_relationships DROP COLUMN clock_skew_ms");
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version >= 7");

        var upgraded = await OpenAsync();

        Assert.Equal("federation observed use and clock skew", await Backend.ExecuteScalarAsync("SELECT description FROM schema_version WHERE version = 7"));
        Assert.Empty(await upgraded.ListUsageAsync(null, None));
        Assert.Equal(1, await upgraded.AddUsageAsync(Agent, [Use("inbound", 1, 0, Start, null)], None));
    }

    [ContractFact]
    public async Task UpdateRefreshState_ClockSkew_RoundTripsToTheMillisecond_NullStaysNull()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        Assert.Null((await Store.GetRelationshipAsync(UsagePeer, None))!.Value.State.ClockSkew);

        await Store.UpdateRefreshStateAsync(UsagePeer, new FederationRefreshState { LastSuccess = Start, ClockSkew = TimeSpan.FromMilliseconds(-90_512) }, None);
        Assert.Equal(TimeSpan.FromMilliseconds(-90_512), (await Store.GetRelationshipAsync(UsagePeer, None))!.Value.State.ClockSkew);

        await Store.UpdateRefreshStateAsync(UsagePeer, new FederationRefreshState { LastSuccess = Start }, None);
        Assert.Null((await Store.GetRelationshipAsync(UsagePeer, None))!.Value.State.ClockSkew);
    }
}
