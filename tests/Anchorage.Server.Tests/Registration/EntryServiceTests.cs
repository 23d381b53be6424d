using Anchorage.Foundation.Selectors;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Registration;

public sealed class EntryServiceTests : RegistrationFixture
{
    [Fact]
    public async Task Create_NoId_AssignsRandomHexIdAndStores()
    {
        var created = await Entries.CreateAsync(Entry(), None);
        var other = await Entries.CreateAsync(Entry("/api"), None);

        Assert.Matches("^[0-9a-f]{32}$", created.Id);
        Assert.NotEqual(created.Id, other.Id);
        Assert.Equal(1, created.RevisionNumber);
        Assert.Equal(Start, created.CreatedAt);
        var read = await Entries.GetAsync(created.Id, None);
        Assert.Equal(created.SpiffeId, read!.SpiffeId);
        Assert.Equal(created.Selectors.ToArray(), read.Selectors.ToArray());
        Assert.Equal(2, await Entries.CountAsync(None));
        Assert.Contains(Log.Events, l => l.EventId == 3200 && l.Message == $"entry {created.Id} created: spiffe://example.org/web under {AgentId}, revision 1");
    }

    [Fact]
    public async Task Create_GivenId_Kept()
    {
        var created = await Entries.CreateAsync(Entry() with { Id = "web-1" }, None);

        Assert.Equal("web-1", created.Id);
    }

    [Fact]
    public async Task Create_Invalid_ValidationExceptionAndNothingStored()
    {
        var ex = await Assert.ThrowsAsync<EntryValidationException>(
            () => Entries.CreateAsync(Entry(selectors: "unix:uid:abc") with { Hint = "\u0000" }, None));

        Assert.Equal(
            "invalid registration entry: selectors[0]: \"unix:uid:abc\": uid must be a non-negative integer; " +
            "hint: must be printable text (no control, format, private-use or unassigned characters)",
            ex.Message);
        Assert.Equal(2, ex.Problems.Count);
        Assert.Equal(0, await Entries.CountAsync(None));
    }

    [Fact]
    public async Task Create_SameSpiffeIdParentAndSelectors_ConflictNamesExistingEntry()
    {
        var first = await Entries.CreateAsync(Entry(selectors: ["unix:uid:1", "unix:gid:2"]), None);

        var ex = await Assert.ThrowsAsync<EntryConflictException>(() => Entries.CreateAsync(Entry(selectors: ["unix:gid:2", "unix:uid:1"]), None));

        Assert.Equal($"an entry with the same spiffe id, parent id and selectors exists: {first.Id}", ex.Message);
        Assert.Equal(first.Id, ex.ExistingEntryId);
        Assert.IsType<DataStoreConflictException>(ex.InnerException);

        // Control: one selector more is another entry.
        await Entries.CreateAsync(Entry(selectors: ["unix:gid:2", "unix:uid:1", "unix:user:a"]), None);
    }

    [Fact]
    public async Task Create_GivenIdTaken_ConflictNamesId()
    {
        await Entries.CreateAsync(Entry() with { Id = "e1" }, None);

        var ex = await Assert.ThrowsAsync<EntryConflictException>(() => Entries.CreateAsync(Entry("/other") with { Id = "e1" }, None));

        Assert.Equal("an entry with id \"e1\" exists", ex.Message);
        await Entries.CreateAsync(Entry("/other") with { Id = "e2" }, None);
    }

    [Fact]
    public async Task CreateBatch_MixedEntries_EachResultOnItsOwn()
    {
        RegistrationEntry[] batch =
        [
            Entry("/a"),
            Entry("/b", selectors: "unix:uid:x"),
            Entry("/a"),
            Entry("/c"),
        ];

        var results = await Entries.CreateBatchAsync(batch, None);

        Assert.Equal([true, false, false, true], results.Select(r => r.Succeeded));
        Assert.Equal(
            "invalid registration entry: selectors[0]: \"unix:uid:x\": uid must be a non-negative integer",
            Assert.IsType<EntryValidationException>(results[1].Error).Message);
        Assert.Equal(
            $"an entry with the same spiffe id, parent id and selectors exists: {results[0].Entry!.Id}",
            Assert.IsType<EntryConflictException>(results[2].Error).Message);
        Assert.Null(results[1].Entry);
        Assert.Equal(2, await Entries.CountAsync(None));
        Assert.Equal(2, Log.Events.Count(l => l.EventId == 3203));
    }

    [Fact]
    public async Task Update_Existing_NewRevisionSameCreationTime()
    {
        var created = await Entries.CreateAsync(Entry(), None);
        Clock.Advance(TimeSpan.FromMinutes(5));

        var updated = await Entries.UpdateAsync(created with { Selectors = Selectors("unix:uid:2000"), Hint = "blue" }, None);

        Assert.Equal(created.RevisionNumber + 1, updated.RevisionNumber);
        var read = await Entries.GetAsync(created.Id, None);
        Assert.Equal(Selectors("unix:uid:2000").ToArray(), read!.Selectors.ToArray());
        Assert.Equal("blue", read.Hint);
        Assert.Equal(Start, read.CreatedAt);
        Assert.Contains(Log.Events, l => l.EventId == 3201);
    }

    [Fact]
    public async Task Update_Missing_NotFound()
    {
        var ex = await Assert.ThrowsAsync<EntryNotFoundException>(() => Entries.UpdateAsync(Entry() with { Id = "nope" }, None));

        Assert.Equal("entry \"nope\" not found", ex.Message);
    }

    [Fact]
    public async Task Update_NoIdAndInvalid_EveryProblem()
    {
        var ex = await Assert.ThrowsAsync<EntryValidationException>(() => Entries.UpdateAsync(Entry() with { JwtSvidTtl = TimeSpan.Zero }, None));

        Assert.Equal(["id: is required to update an entry", "jwtSvidTtl: must be positive"], ex.Problems);
    }

    [Fact]
    public async Task Update_IntoDuplicateOfAnother_ConflictNamesOther()
    {
        var a = await Entries.CreateAsync(Entry("/a"), None);
        var b = await Entries.CreateAsync(Entry("/b"), None);

        var ex = await Assert.ThrowsAsync<EntryConflictException>(() => Entries.UpdateAsync(b with { SpiffeId = a.SpiffeId }, None));

        Assert.Equal($"an entry with the same spiffe id, parent id and selectors exists: {a.Id}", ex.Message);
        await Entries.UpdateAsync(b with { SpiffeId = SpiffeId.Parse("spiffe://example.org/c") }, None);
    }

    [Fact]
    public async Task Delete_Existing_GoneThenFalse()
    {
        var created = await Entries.CreateAsync(Entry(), None);

        Assert.True(await Entries.DeleteAsync(created.Id, None));
        Assert.Null(await Entries.GetAsync(created.Id, None));
        Assert.False(await Entries.DeleteAsync(created.Id, None));
        Assert.Single(Log.Events, l => l.EventId == 3202);
    }

    [Fact]
    public async Task List_FiltersAndPages_PassedToStore()
    {
        var other = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/fedcba9876543210");
        for (var i = 0; i < 5; i++)
        {
            await Entries.CreateAsync(Entry("/w" + i), None);
        }

        await Entries.CreateAsync(Entry("/x", other), None);

        var page = await Entries.ListAsync(new EntryQuery { ParentIds = [AgentId], PageSize = 3 }, None);
        var rest = await Entries.ListAsync(new EntryQuery { ParentIds = [AgentId], PageSize = 3, PageToken = page.NextPageToken }, None);
        var bySelector = await Entries.ListAsync(new EntryQuery { ParentIds = [other], Selector = Selector.Parse("unix:uid:1000") }, None);

        Assert.Equal(3, page.Entries.Count);
        Assert.Equal(2, rest.Entries.Count);
        Assert.Null(rest.NextPageToken);
        Assert.Equal("spiffe://example.org/x", Assert.Single(bySelector.Entries).SpiffeId.ToString());
    }

    [Fact]
    public async Task List_InvalidQuery_EveryProblem()
    {
        var ex = await Assert.ThrowsAsync<EntryValidationException>(
            () => Entries.ListAsync(new EntryQuery { PageSize = 0, ParentIds = [AgentId, default], Selector = new Selector("unix", "uid: 1") }, None));
        var token = await Assert.ThrowsAsync<EntryValidationException>(
            () => Entries.ListAsync(new EntryQuery { PageToken = "%%%" }, None));

        Assert.Equal(
            "invalid entry query: pageSize: must be between 1 and 10000; parentIds[1]: is empty; " +
            "selector: must be type:value without whitespace or control characters",
            ex.Message);
        Assert.Equal("invalid entry query: pageToken: is not valid", token.Message);
        Assert.Empty((await Entries.ListAsync(new EntryQuery { PageSize = 10000 }, None)).Entries);
    }
}
