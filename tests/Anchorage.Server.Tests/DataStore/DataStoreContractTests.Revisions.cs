using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Updates made from a revision: an entry or a relationship changes only while it is still at the
/// revision its writer read, so a stale writer (a second server, an operator's second window) gets a
/// conflict instead of overwriting a newer declaration; and a relationship is created only if absent.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private const int Writers = 8;

    [ContractFact]
    public async Task UpdateEntry_FromOlderRevision_StaleAndNewerKept()
    {
        var created = await Store.CreateEntryAsync(Entry("e1"), None);
        var newer = await Store.UpdateEntryAsync(created with { Hint = "newer" }, None);

        var ex = await Assert.ThrowsAsync<DataStoreStaleRevisionException>(() => Store.UpdateEntryAsync(created with { Hint = "stale" }, None));

        Assert.Equal(
            $"entry \"e1\" changed since it was read: it is at revision {newer.RevisionNumber}, the update was made from revision {created.RevisionNumber}; read it again",
            ex.Message);
        Assert.Equal(newer.RevisionNumber, ex.StoredRevision);
        AssertSameEntry(newer, await Store.GetEntryAsync("e1", None));

        // Positive control: the same change made from the stored revision is applied.
        var applied = await Store.UpdateEntryAsync(newer with { Hint = "from newest" }, None);
        Assert.Equal("from newest", applied.Hint);
        Assert.Equal(newer.RevisionNumber + 1, applied.RevisionNumber);
    }

    [ContractFact]
    public async Task UpdateEntry_ConcurrentWritersFromOneRevisionOnTwoServers_ExactlyOneWinsOthersStale()
    {
        var second = await OpenAsync();
        for (var trial = 0; trial < 10; trial++)
        {
            var read = await Store.CreateEntryAsync(Entry($"c{trial}", $"/c{trial}"), None);
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                await go.Task;
                try
                {
                    return (Writer: w, Stored: await (w % 2 == 0 ? Store : second).UpdateEntryAsync(read with { Hint = $"writer {w}" }, None));
                }
                catch (DataStoreStaleRevisionException)
                {
                    return (Writer: w, Stored: (Anchorage.Server.Registration.RegistrationEntry?)null);
                }
            })).ToArray();
            go.SetResult();
            var results = await Task.WhenAll(writers);

            var winner = Assert.Single(results, r => r.Stored is not null);
            AssertSameEntry(winner.Stored!, await Store.GetEntryAsync(read.Id, None));
            Assert.Equal($"writer {winner.Writer}", (await second.GetEntryAsync(read.Id, None))!.Hint);
        }
    }

    [ContractFact]
    public async Task UpdateEntry_RevisionZero_NoCheckLastWriterWins()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);
        await Store.UpdateEntryAsync(Entry("e1") with { Hint = "first" }, None);

        var unconditional = await Store.UpdateEntryAsync(Entry("e1") with { Hint = "second" }, None);

        Assert.Equal("second", (await Store.GetEntryAsync("e1", None))!.Hint);
        Assert.Equal(3, unconditional.RevisionNumber);
    }

    [ContractFact]
    public async Task CreateRelationship_Existing_ConflictAndStoredKept()
    {
        var stored = await Store.CreateRelationshipAsync(Relationship(), None);

        var ex = await Assert.ThrowsAsync<DataStoreConflictException>(
            () => Store.CreateRelationshipAsync(Relationship(owner: "someone-else@example.com"), None));

        Assert.Equal("federation relationship \"payments.example.com\" already exists", ex.Message);
        Assert.Equal(stored, (await Store.GetRelationshipAsync(Payments, None))!.Value.Relationship);
    }

    [ContractFact]
    public async Task UpdateRelationship_FromOlderRevision_StaleAndNewerKept()
    {
        var first = await Store.CreateRelationshipAsync(Relationship(), None);
        Clock.Advance(TimeSpan.FromMinutes(1));
        var newer = await Store.UpdateRelationshipAsync(first with { Owner = "newer@example.com" }, None);

        var ex = await Assert.ThrowsAsync<DataStoreStaleRevisionException>(
            () => Store.UpdateRelationshipAsync(first with { Owner = "stale@example.com" }, None));

        Assert.Equal(
            "federation relationship \"payments.example.com\" changed since it was read: it is at revision 2, the update was made from revision 1; read it again",
            ex.Message);
        Assert.Equal(newer, (await Store.GetRelationshipAsync(Payments, None))!.Value.Relationship);

        // Positive control: made from the stored revision, the same change is applied.
        var applied = await Store.UpdateRelationshipAsync(newer with { Owner = "stale@example.com" }, None);
        Assert.Equal(3, applied.Revision);
        Assert.Equal("stale@example.com", (await Store.GetRelationshipAsync(Payments, None))!.Value.Relationship.Owner);
    }

    [ContractFact]
    public async Task UpdateRelationship_Absent_NotFound()
    {
        var ex = await Assert.ThrowsAsync<DataStoreNotFoundException>(
            () => Store.UpdateRelationshipAsync(Relationship() with { Revision = 1 }, None));

        Assert.Equal("federation relationship \"payments.example.com\" not found", ex.Message);
        Assert.Null(await Store.GetRelationshipAsync(Payments, None));
    }

    [ContractFact]
    public async Task RelationshipWriters_ConcurrentOnTwoServers_OneCreateAndOneUpdatePerRevisionWin()
    {
        var second = await OpenAsync();
        for (var trial = 0; trial < 10; trial++)
        {
            var td = TrustDomain.Parse($"race{trial}.example");
            var creates = await RaceAsync(w => (w % 2 == 0 ? Store : second).CreateRelationshipAsync(Relationship(td.Name, $"creator-{w}@example.com"), None));
            var created = Assert.Single(creates, r => r.Stored is not null);
            Assert.All(creates.Where(r => r.Stored is null), r => Assert.IsType<DataStoreConflictException>(r.Error));

            var read = (await Store.GetRelationshipAsync(td, None))!.Value.Relationship;
            Assert.Equal(created.Stored, read);
            var updates = await RaceAsync(w => (w % 2 == 0 ? Store : second).UpdateRelationshipAsync(read with { Owner = $"updater-{w}@example.com" }, None));
            var updated = Assert.Single(updates, r => r.Stored is not null);
            Assert.All(updates.Where(r => r.Stored is null), r => Assert.IsType<DataStoreStaleRevisionException>(r.Error));

            var now = (await second.GetRelationshipAsync(td, None))!.Value.Relationship;
            Assert.Equal($"updater-{updated.Writer}@example.com", now.Owner);
            Assert.Equal(2, now.Revision);
        }
    }

    private static async Task<(int Writer, FederationRelationship? Stored, Exception? Error)[]> RaceAsync(
        Func<int, Task<FederationRelationship>> write)
    {
        // Released together (an awaited signal, not a barrier that would pin a pool thread per writer).
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            await go.Task;
            try
            {
                return (w, (FederationRelationship?)await write(w), (Exception?)null);
            }
            catch (Exception ex) when (ex is DataStoreConflictException or DataStoreStaleRevisionException)
            {
                return (w, null, ex);
            }
        })).ToArray();
        go.SetResult();
        return await Task.WhenAll(writers);
    }
}
