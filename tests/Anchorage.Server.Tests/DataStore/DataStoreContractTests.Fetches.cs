using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Fetch history (schema version 8, issue 16 item 2): every field round-trips, the newest
/// <see cref="FederationFetch.HistoryLimit"/> per relationship are kept on insert (and only that
/// relationship's), nothing is stored for a trust domain without a relationship, the history goes
/// with the relationship, and the table is added to a database at schema version 7.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private static FederationFetch Fetched(DateTimeOffset at, ulong? sequence, string outcome = FederationFetch.NotModified, string? message = null) =>
        new(at, outcome, message, sequence, TimeSpan.FromSeconds(300), TimeSpan.FromMilliseconds(-1_250));

    [ContractFact]
    public async Task AddFetch_EveryField_RoundTripsNewestFirst()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        var error = new FederationFetch(Start.AddMinutes(1), FederationFetch.Error, "https://payments.example.com/: HTTP status 503, expected 200", null, null, null);
        var huge = new FederationFetch(Start.AddMinutes(2), FederationFetch.Ok, null, ulong.MaxValue, TimeSpan.FromMilliseconds(1_500), TimeSpan.FromSeconds(42));

        Assert.True(await Store.AddFetchAsync(Payments, Fetched(Start, 7), None));
        Assert.True(await Store.AddFetchAsync(Payments, error, None));
        Assert.True(await Store.AddFetchAsync(Payments, huge, None));

        Assert.Equal([huge, error, Fetched(Start, 7)], await Store.ListFetchesAsync(Payments, None));
    }

    [ContractFact]
    public async Task AddFetch_MoreThanTheLimit_OnlyTheNewestKept_OtherRelationshipUntouched()
    {
        var other = TrustDomain.Parse("other.example.com");
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.CreateRelationshipAsync(Relationship("other.example.com"), None);
        await Store.AddFetchAsync(other, Fetched(Start, 1), None);

        for (var i = 0; i < FederationFetch.HistoryLimit + 5; i++)
        {
            await Store.AddFetchAsync(Payments, Fetched(Start.AddMinutes(i), (ulong)i), None);
        }

        var kept = await Store.ListFetchesAsync(Payments, None);
        Assert.Equal(FederationFetch.HistoryLimit, kept.Count);
        Assert.Equal(Enumerable.Range(5, FederationFetch.HistoryLimit).Reverse().Select(i => (ulong?)(ulong)i), kept.Select(f => f.Sequence));
        Assert.Equal(FederationFetch.HistoryLimit, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM federation_fetches WHERE trust_domain = 'payments.example.com'")));
        Assert.Equal([Fetched(Start, 1)], await Store.ListFetchesAsync(other, None));
    }

    [ContractFact]
    public async Task AddFetch_TrustDomainWithoutRelationship_NothingStored_DeletedWithTheRelationship()
    {
        var stranger = TrustDomain.Parse("stranger.example");
        await Store.CreateRelationshipAsync(Relationship(), None);

        Assert.False(await Store.AddFetchAsync(stranger, Fetched(Start, 1), None));
        Assert.True(await Store.AddFetchAsync(Payments, Fetched(Start, 1), None));

        Assert.Empty(await Store.ListFetchesAsync(stranger, None));
        Assert.Single(await Store.ListFetchesAsync(Payments, None));
        Assert.True(await Store.DeleteRelationshipAsync(Payments, None));
        Assert.Empty(await Store.ListFetchesAsync(Payments, None));
        Assert.Equal(0L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM federation_fetches")));
    }

    [ContractFact]
    public async Task AddFetch_UnknownOutcome_ArgumentException_LongMessageCut()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => Store.AddFetchAsync(Payments, Fetched(Start, 1, "maybe"), None));
        Assert.StartsWith("fetch of payments.example.com: outcome must be ok, not-modified or error", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await Store.ListFetchesAsync(Payments, None));

        await Store.AddFetchAsync(Payments, Fetched(Start, null, FederationFetch.Error, new string('x', 5000)), None);
        Assert.Equal(FederationFetch.MaxMessageLength, (await Store.ListFetchesAsync(Payments, None))[0].Message!.Length);
    }

    [ContractFact]
    public async Task Open_DatabaseAtSchemaVersion7_FetchTableAdded()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.DisposeAsync();
        await Backend.ExecuteScalarAsync("DROP TABLE federation_fetches");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_held");
        await Backend.ExecuteScalarAsync("DROP TABLE revoked_authorities");
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version >= 8");

        var upgraded = await OpenAsync();

        Assert.Equal("federation fetch history, held bundle sequences and revoked authorities", await Backend.ExecuteScalarAsync("SELECT description FROM schema_version WHERE version = 8"));
        Assert.Empty(await upgraded.ListFetchesAsync(Payments, None));
        Assert.True(await upgraded.AddFetchAsync(Payments, Fetched(Start, 3), None));
        Assert.Single(await upgraded.ListFetchesAsync(Payments, None));
    }
}
