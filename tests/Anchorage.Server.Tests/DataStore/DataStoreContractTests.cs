using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Data.Common;
using Anchorage.Foundation.Selectors;
using Anchorage.Server.Attestation;
using Anchorage.Server.Ca;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Server.Registration;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Federation;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing.Bundles;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// The behaviour every <see cref="IDataStore"/> backend must have; each backend runs it through a
/// subclass. Every test gets a fresh private database from <typeparamref name="TBackend"/>.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend> : IAsyncLifetime
    where TBackend : IDataStoreTestBackend, new()
{
    protected static readonly DateTimeOffset Start = new(2026, 5, 1, 12, 0, 0, 123, TimeSpan.Zero);
    protected static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    protected static readonly SpiffeId Agent = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/a1");
    protected static readonly CancellationToken None = CancellationToken.None;

    private readonly List<IDataStore> _opened = [];

    protected DataStoreContractTests()
    {
        Backend = new TBackend();
    }

    protected TBackend Backend { get; }

    protected FakeTimeProvider Clock { get; } = new(Start);

    protected IDataStore Store { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Backend.InitializeAsync();
        Store = await OpenAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        await Backend.DisposeAsync();
    }

    /// <summary>Another store over the same database (a reopen, or a second server).</summary>
    protected async Task<IDataStore> OpenAsync()
    {
        var store = await DataStoreFactory.OpenAsync(Backend.Options, Clock, null, None);
        _opened.Add(store);
        return store;
    }

    protected static RegistrationEntry Entry(string id, string path = "/workload", SpiffeId parent = default, params string[] selectors) => new()
    {
        Id = id,
        SpiffeId = SpiffeId.Parse("spiffe://example.org" + path),
        ParentId = parent.IsEmpty ? Agent : parent,
        Selectors = selectors.Length == 0 ? [Selector.Parse("unix:uid:1000")] : [.. selectors.Select(Selector.Parse)],
    };

    protected static void AssertSameEntry(RegistrationEntry expected, RegistrationEntry? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.SpiffeId, actual.SpiffeId);
        Assert.Equal(expected.ParentId, actual.ParentId);
        Assert.Equal(expected.Selectors.ToArray(), actual.Selectors.ToArray());
        Assert.Equal(expected.X509SvidTtl, actual.X509SvidTtl);
        Assert.Equal(expected.JwtSvidTtl, actual.JwtSvidTtl);
        Assert.Equal(expected.FederatesWith.ToArray(), actual.FederatesWith.ToArray());
        Assert.Equal(expected.DnsNames.ToArray(), actual.DnsNames.ToArray());
        Assert.Equal(expected.Hint, actual.Hint);
        Assert.Equal(expected.Admin, actual.Admin);
        Assert.Equal(expected.Downstream, actual.Downstream);
        Assert.Equal(expected.RevisionNumber, actual.RevisionNumber);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
    }

    // ---- entries: CRUD ----

    [ContractFact]
    public async Task CreateEntry_New_StoresEveryFieldWithRevisionAndCreationTime()
    {
        var entry = Entry("e1") with
        {
            X509SvidTtl = TimeSpan.FromMinutes(30),
            JwtSvidTtl = TimeSpan.FromSeconds(90),
            FederatesWith = [TrustDomain.Parse("payments.example.com")],
            DnsNames = ["b.example.org", "a.example.org"],
            Hint = "internal",
            Admin = true,
            Downstream = true,
        };

        var created = await Store.CreateEntryAsync(entry, None);

        Assert.Equal(1, created.RevisionNumber);
        Assert.Equal(Start, created.CreatedAt);
        Assert.Equal(TimeSpan.Zero, created.CreatedAt.Offset);
        Assert.Equal(["b.example.org", "a.example.org"], created.DnsNames.ToArray());
        AssertSameEntry(entry with { RevisionNumber = 1, CreatedAt = Start }, created);
        AssertSameEntry(created, await Store.GetEntryAsync("e1", None));
    }

    [ContractFact]
    public async Task CreateEntry_SelectorsAndTrustDomainsUnordered_StoredSortedWithoutRepeats()
    {
        var entry = Entry("e1", selectors: ["unix:uid:1000", "k8s:ns:default", "unix:gid:0", "k8s:ns:default"]) with
        {
            FederatesWith = [TrustDomain.Parse("z.example"), TrustDomain.Parse("a.example"), TrustDomain.Parse("z.example")],
        };

        var created = await Store.CreateEntryAsync(entry, None);

        Selector[] sorted = [Selector.Parse("k8s:ns:default"), Selector.Parse("unix:gid:0"), Selector.Parse("unix:uid:1000")];
        Assert.Equal(sorted, created.Selectors.ToArray());
        Assert.Equal([TrustDomain.Parse("a.example"), TrustDomain.Parse("z.example")], created.FederatesWith.ToArray());
        var read = await Store.GetEntryAsync("e1", None);
        Assert.Equal(sorted, read!.Selectors.ToArray());
    }

    [ContractFact]
    public async Task CreateEntry_SameSpiffeIdParentAndSelectorSet_Conflict()
    {
        await Store.CreateEntryAsync(Entry("e1", selectors: ["unix:uid:1000", "unix:gid:0"]), None);

        var ex = await Assert.ThrowsAsync<DataStoreConflictException>(
            () => Store.CreateEntryAsync(Entry("e2", selectors: ["unix:gid:0", "unix:uid:1000"]), None));

        Assert.Equal("entry duplicates entry \"e1\": same spiffe id, parent id and selectors", ex.Message);

        // Positive controls: one more selector, another SPIFFE ID, another parent are all different entries.
        await Store.CreateEntryAsync(Entry("e3", selectors: ["unix:gid:0", "unix:uid:1000", "unix:user:x"]), None);
        await Store.CreateEntryAsync(Entry("e4", "/other", selectors: ["unix:gid:0", "unix:uid:1000"]), None);
        await Store.CreateEntryAsync(Entry("e5", parent: SpiffeId.Parse("spiffe://example.org/other-agent"), selectors: ["unix:gid:0", "unix:uid:1000"]), None);
        Assert.Equal(4, await Store.CountEntriesAsync(None));
    }

    [ContractFact]
    public async Task CreateEntry_ExistingId_Conflict()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);

        var ex = await Assert.ThrowsAsync<DataStoreConflictException>(() => Store.CreateEntryAsync(Entry("e1", "/other"), None));

        Assert.Equal("entry \"e1\" already exists", ex.Message);
        await Store.CreateEntryAsync(Entry("e2", "/other"), None);
    }

    [ContractFact]
    public async Task CreateEntry_NoSelectors_ArgumentException()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateEntryAsync(Entry("e1") with { Selectors = [] }, None));

        Assert.StartsWith("entry \"e1\" has no selectors", ex.Message);
        await Store.CreateEntryAsync(Entry("e1"), None);
    }

    [ContractFact]
    public async Task GetEntry_Absent_Null()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);

        Assert.Null(await Store.GetEntryAsync("e2", None));
        Assert.NotNull(await Store.GetEntryAsync("e1", None));
    }

    [ContractFact]
    public async Task UpdateEntry_Existing_ReplacesFieldsWithNextRevisionAndKeepsCreationTime()
    {
        var created = await Store.CreateEntryAsync(Entry("e1"), None);
        await Store.CreateEntryAsync(Entry("e2", "/two"), None);
        Clock.Advance(TimeSpan.FromHours(1));

        var updated = await Store.UpdateEntryAsync(
            Entry("e1", "/renamed", selectors: ["unix:uid:2000"]) with { Hint = "h", DnsNames = ["x.example.org"], CreatedAt = Start.AddYears(1) },
            None);

        Assert.Equal(3, updated.RevisionNumber);
        Assert.Equal(created.CreatedAt, updated.CreatedAt);
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/renamed"), updated.SpiffeId);
        AssertSameEntry(updated, await Store.GetEntryAsync("e1", None));
        var bySelector = await Store.ListEntriesAsync(new EntryQuery { Selector = Selector.Parse("unix:uid:1000") }, None);
        Assert.Equal(["e2"], bySelector.Entries.Select(e => e.Id));
    }

    [ContractFact]
    public async Task UpdateEntry_Absent_NotFound()
    {
        var ex = await Assert.ThrowsAsync<DataStoreNotFoundException>(() => Store.UpdateEntryAsync(Entry("e1"), None));

        Assert.Equal("entry \"e1\" not found", ex.Message);
        await Store.CreateEntryAsync(Entry("e1"), None);
        await Store.UpdateEntryAsync(Entry("e1"), None);
    }

    [ContractFact]
    public async Task UpdateEntry_IntoAnotherEntrysIdentity_Conflict()
    {
        await Store.CreateEntryAsync(Entry("e1", "/one"), None);
        await Store.CreateEntryAsync(Entry("e2", "/two"), None);

        var ex = await Assert.ThrowsAsync<DataStoreConflictException>(() => Store.UpdateEntryAsync(Entry("e2", "/one"), None));

        Assert.Equal("entry duplicates entry \"e1\": same spiffe id, parent id and selectors", ex.Message);
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/two"), (await Store.GetEntryAsync("e2", None))!.SpiffeId);

        // Positive control: an update that keeps its own identity is no duplicate of itself.
        var same = await Store.UpdateEntryAsync(Entry("e2", "/two") with { Admin = true }, None);
        Assert.True(same.Admin);
    }

    [ContractFact]
    public async Task DeleteEntry_Existing_TrueThenAbsentAndFalse()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);

        Assert.True(await Store.DeleteEntryAsync("e1", None));
        Assert.Null(await Store.GetEntryAsync("e1", None));
        Assert.False(await Store.DeleteEntryAsync("e1", None));
        Assert.Equal(0, await Store.CountEntriesAsync(None));
        var bySelector = await Store.ListEntriesAsync(new EntryQuery { Selector = Selector.Parse("unix:uid:1000") }, None);
        Assert.Empty(bySelector.Entries);
    }

    // ---- entries: listing ----

    [ContractFact]
    public async Task ListEntries_2500Entries_PagesThroughEveryEntryOnceInIdOrder()
    {
        const int count = 2500;
        var ids = Enumerable.Range(0, count).Select(i => $"entry-{i:x5}").ToArray();
        await Parallel.ForEachAsync(
            ids,
            new ParallelOptions { MaxDegreeOfParallelism = 4 },
            async (id, ct) => await Store.CreateEntryAsync(Entry(id, "/w/" + id), ct));

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await Store.ListEntriesAsync(new EntryQuery { PageSize = 1000, PageToken = token }, None);
            seen.AddRange(page.Entries.Select(e => e.Id));
            token = page.NextPageToken;
            pages++;
        }
        while (token is not null);

        Assert.Equal(3, pages);
        Assert.Equal(ids.Order(StringComparer.Ordinal), seen);
        Assert.Equal(count, await Store.CountEntriesAsync(None));
    }

    [ContractFact]
    public async Task ListEntries_ExactPageSize_LastPageHasNoToken()
    {
        await Store.CreateEntryAsync(Entry("e1", "/1"), None);
        await Store.CreateEntryAsync(Entry("e2", "/2"), None);

        var page = await Store.ListEntriesAsync(new EntryQuery { PageSize = 2 }, None);
        Assert.Equal(["e1", "e2"], page.Entries.Select(e => e.Id));
        Assert.Null(page.NextPageToken);

        var first = await Store.ListEntriesAsync(new EntryQuery { PageSize = 1 }, None);
        Assert.NotNull(first.NextPageToken);
    }

    [ContractFact]
    public async Task ListEntries_EveryFilter_MatchesOnlyEntriesPassingAllSetFilters()
    {
        var other = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/a2");
        var alias = SpiffeId.Parse("spiffe://example.org/node-alias");
        var payments = TrustDomain.Parse("payments.example.com");
        await Store.CreateEntryAsync(Entry("a", "/web", Agent, "unix:uid:1000"), None);
        await Store.CreateEntryAsync(Entry("b", "/web", other, "unix:uid:1000") with { FederatesWith = [payments] }, None);
        await Store.CreateEntryAsync(Entry("c", "/db", alias, "unix:uid:1000", "unix:gid:5") with { FederatesWith = [payments] }, None);
        await Store.CreateEntryAsync(Entry("d", "/db", Agent, "unix:uid:2000"), None);

        async Task<string[]> Ids(EntryQuery q) => [.. (await Store.ListEntriesAsync(q, None)).Entries.Select(e => e.Id)];

        Assert.Equal(["a", "b", "c", "d"], await Ids(new EntryQuery()));
        Assert.Equal(["a", "c", "d"], await Ids(new EntryQuery { ParentIds = [Agent, alias] }));
        Assert.Equal(["c", "d"], await Ids(new EntryQuery { SpiffeId = SpiffeId.Parse("spiffe://example.org/db") }));
        Assert.Equal(["a", "b", "c"], await Ids(new EntryQuery { Selector = Selector.Parse("unix:uid:1000") }));
        Assert.Equal(["c"], await Ids(new EntryQuery { Selector = Selector.Parse("unix:gid:5") }));
        Assert.Equal(["b", "c"], await Ids(new EntryQuery { FederatesWith = payments }));
        Assert.Equal(["c"], await Ids(new EntryQuery { ParentIds = [alias, Agent], FederatesWith = payments, Selector = Selector.Parse("unix:uid:1000") }));
        Assert.Empty(await Ids(new EntryQuery { SpiffeId = SpiffeId.Parse("spiffe://example.org/web"), Selector = Selector.Parse("unix:uid:2000") }));
        Assert.Empty(await Ids(new EntryQuery { ParentIds = [] }));
        Assert.Empty(await Ids(new EntryQuery { Selector = Selector.Parse("unix:uid:100") }));
    }

    [ContractFact]
    public async Task ListEntries_BadPageTokenOrSize_ArgumentException()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);

        var token = await Assert.ThrowsAsync<ArgumentException>(() => Store.ListEntriesAsync(new EntryQuery { PageToken = "!!not base64!!" }, None));
        Assert.StartsWith("page token is not valid", token.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListEntriesAsync(new EntryQuery { PageSize = 0 }, None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Store.ListEntriesAsync(new EntryQuery { PageSize = 10001 }, None));
        Assert.Single((await Store.ListEntriesAsync(new EntryQuery { PageSize = 10000 }, None)).Entries);
    }

    // ---- entries: changes since a revision ----

    [ContractFact]
    public async Task ListEntryChanges_SinceRevision_UpsertsAtLatestStateAndDeletionsInRevisionOrder()
    {
        await Store.CreateEntryAsync(Entry("e1", "/1"), None);             // 1
        await Store.CreateEntryAsync(Entry("e2", "/2"), None);             // 2
        await Store.CreateEntryAsync(Entry("e3", "/3"), None);             // 3
        await Store.UpdateEntryAsync(Entry("e1", "/1") with { Hint = "x" }, None); // 4
        Assert.True(await Store.DeleteEntryAsync("e2", None));             // 5
        Assert.False(await Store.DeleteEntryAsync("e2", None));            // no revision used

        var all = await Store.ListEntryChangesAsync(0, 100, None);
        Assert.Equal(["e3", "e1"], all.Upserted.Select(e => e.Id));
        Assert.Equal("x", all.Upserted[1].Hint);
        Assert.Equal(["e2"], all.DeletedIds);
        Assert.Equal(5, all.Revision);
        Assert.False(all.HasMore);

        var since3 = await Store.ListEntryChangesAsync(3, 100, None);
        Assert.Equal(["e1"], since3.Upserted.Select(e => e.Id));
        Assert.Equal(["e2"], since3.DeletedIds);
        Assert.Equal(5, since3.Revision);

        var none = await Store.ListEntryChangesAsync(5, 100, None);
        Assert.Empty(none.Upserted);
        Assert.Empty(none.DeletedIds);
        Assert.Equal(5, none.Revision);
        Assert.False(none.HasMore);

        // The next write takes the next revision: deletions and entries share one counter.
        Assert.Equal(6, (await Store.CreateEntryAsync(Entry("e4", "/4"), None)).RevisionNumber);
    }

    [ContractFact]
    public async Task ListEntryChanges_SmallLimit_HasMoreAndResumingReproducesTheStore()
    {
        for (var i = 0; i < 10; i++)
        {
            await Store.CreateEntryAsync(Entry($"e{i}", $"/{i}"), None);
        }

        await Store.DeleteEntryAsync("e3", None);
        await Store.UpdateEntryAsync(Entry("e5", "/5") with { Hint = "changed" }, None);
        await Store.DeleteEntryAsync("e7", None);

        var mirror = new Dictionary<string, RegistrationEntry>();
        long revision = 0;
        var calls = 0;
        EntryChanges changes;
        do
        {
            changes = await Store.ListEntryChangesAsync(revision, 3, None);
            Assert.True(changes.Upserted.Count + changes.DeletedIds.Count <= 3);
            foreach (var e in changes.Upserted)
            {
                mirror[e.Id] = e;
            }

            foreach (var id in changes.DeletedIds)
            {
                mirror.Remove(id);
            }

            Assert.True(changes.Revision > revision || !changes.HasMore);
            revision = changes.Revision;
            calls++;
        }
        while (changes.HasMore);

        // 13 revisions, 10 live changes (8 entries + 2 tombstones): 3 + 3 + 3 + 1.
        Assert.Equal(4, calls);
        Assert.Equal(13, revision);
        var all = (await Store.ListEntriesAsync(new EntryQuery(), None)).Entries;
        Assert.Equal(all.Select(e => e.Id), mirror.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("changed", mirror["e5"].Hint);
    }

    [ContractFact]
    public async Task ListEntryChanges_IdRecreatedAfterDelete_OnlyTheNewEntry()
    {
        await Store.CreateEntryAsync(Entry("e1"), None);                 // 1
        await Store.DeleteEntryAsync("e1", None);                        // 2

        var deleted = await Store.ListEntryChangesAsync(0, 10, None);
        Assert.Equal(["e1"], deleted.DeletedIds);

        await Store.CreateEntryAsync(Entry("e1", "/again"), None);       // 3

        var changes = await Store.ListEntryChangesAsync(0, 10, None);
        Assert.Equal(["e1"], changes.Upserted.Select(e => e.Id));
        Assert.Empty(changes.DeletedIds);
        Assert.Equal(3, changes.Revision);
    }

    [ContractFact]
    public async Task CreateEntry_ConcurrentWritersOnTwoStores_EveryRevisionDistinctAndChangesExact()
    {
        var second = await OpenAsync();
        var created = new ConcurrentBag<RegistrationEntry>();
        await Parallel.ForEachAsync(
            Enumerable.Range(0, 80),
            new ParallelOptions { MaxDegreeOfParallelism = 8 },
            async (i, ct) =>
            {
                var store = i % 2 == 0 ? Store : second;
                created.Add(await store.CreateEntryAsync(Entry($"e{i:d3}", $"/{i}"), ct));
                if (i % 5 == 0)
                {
                    created.Add(await store.UpdateEntryAsync(Entry($"e{i:d3}", $"/{i}") with { Hint = "u" }, ct));
                }
            });

        var revisions = created.Select(e => e.RevisionNumber).Order().ToArray();
        Assert.Equal(Enumerable.Range(1, 96).Select(i => (long)i), revisions);
        var changes = await Store.ListEntryChangesAsync(0, 1000, None);
        Assert.Equal(80, changes.Upserted.Count);
        Assert.Equal(96, changes.Revision);
    }

    // ---- join tokens ----

    private static JoinToken Token(string id, DateTimeOffset expiresAt) => new()
    {
        Id = id,
        SecretHash = [.. Enumerable.Range(0, 32).Select(i => (byte)(i * 7))],
        ExpiresAt = expiresAt,
    };

    [ContractFact]
    public async Task TakeJoinToken_Stored_ReturnedOnceThenNull()
    {
        var token = Token("t1", Start.AddMinutes(10)) with { Alias = SpiffeId.Parse("spiffe://example.org/alias") };
        await Store.CreateJoinTokenAsync(token, None);
        await Store.CreateJoinTokenAsync(Token("t2", Start.AddMinutes(10)), None);

        var taken = await Store.TakeJoinTokenAsync("t1", None);

        Assert.NotNull(taken);
        Assert.Equal("t1", taken.Id);
        Assert.Equal(token.SecretHash, taken.SecretHash);
        Assert.Equal(token.ExpiresAt, taken.ExpiresAt);
        Assert.Equal(token.Alias, taken.Alias);
        Assert.Null(await Store.TakeJoinTokenAsync("t1", None));
        var noAlias = await Store.TakeJoinTokenAsync("t2", None);
        Assert.True(noAlias!.Alias.IsEmpty);
    }

    [ContractFact]
    public async Task CreateJoinToken_ExistingId_Conflict()
    {
        await Store.CreateJoinTokenAsync(Token("t1", Start), None);

        var ex = await Assert.ThrowsAsync<DataStoreConflictException>(() => Store.CreateJoinTokenAsync(Token("t1", Start), None));

        Assert.Equal("join token \"t1\" already exists", ex.Message);
        await Store.CreateJoinTokenAsync(Token("t2", Start), None);
    }

    [ContractFact]
    public async Task TakeJoinToken_16ConcurrentTakersOnTwoStores_ExactlyOneWins()
    {
        var second = await OpenAsync();
        for (var round = 0; round < 5; round++)
        {
            var id = $"race-{round}";
            await Store.CreateJoinTokenAsync(Token(id, Start.AddMinutes(10)), None);
            using var go = new ManualResetEventSlim();
            var takers = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
            {
                go.Wait();
                return await (i % 2 == 0 ? Store : second).TakeJoinTokenAsync(id, None);
            })).ToArray();
            go.Set();

            var results = await Task.WhenAll(takers);

            Assert.Single(results, r => r is not null);
        }
    }

    [ContractFact]
    public async Task PruneJoinTokens_ExpiredBefore_RemovesOnlyThose()
    {
        await Store.CreateJoinTokenAsync(Token("old1", Start.AddMinutes(-2)), None);
        await Store.CreateJoinTokenAsync(Token("old2", Start.AddMilliseconds(-1)), None);
        await Store.CreateJoinTokenAsync(Token("edge", Start), None);
        await Store.CreateJoinTokenAsync(Token("new", Start.AddMinutes(1)), None);

        Assert.Equal(2, await Store.PruneJoinTokensAsync(Start, None));

        Assert.Null(await Store.TakeJoinTokenAsync("old1", None));
        Assert.NotNull(await Store.TakeJoinTokenAsync("edge", None));
        Assert.NotNull(await Store.TakeJoinTokenAsync("new", None));
        Assert.Equal(0, await Store.PruneJoinTokensAsync(Start, None));
    }

    // ---- nodes ----

    private static AttestedNode Node(string id) => new()
    {
        SpiffeId = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/" + id),
        AttestationType = "join_token",
        CertSerial = "0a1b2c",
        CertNotAfter = Start.AddHours(1),
        Selectors = [Selector.Parse("join_token:" + id)],
    };

    private static void AssertSameNode(AttestedNode expected, AttestedNode? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.SpiffeId, actual.SpiffeId);
        Assert.Equal(expected.AttestationType, actual.AttestationType);
        Assert.Equal(expected.CertSerial, actual.CertSerial);
        Assert.Equal(expected.CertNotAfter, actual.CertNotAfter);
        Assert.Equal(expected.Selectors.ToArray(), actual.Selectors.ToArray());
        Assert.Equal(expected.Banned, actual.Banned);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        Assert.Equal(expected.PendingCertSerial, actual.PendingCertSerial);
        Assert.Equal(expected.PendingCertNotAfter, actual.PendingCertNotAfter);
    }

    [ContractFact]
    public async Task Node_CreateRenewBanDelete_EachStepStored()
    {
        var node = Node("n1");
        await Store.CreateNodeAsync(node, None);
        AssertSameNode(node with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));

        var reattested = node with { AttestationType = "other", CertSerial = "ff00", CertNotAfter = Start.AddHours(2), CreatedAt = Start.AddDays(9) };
        Assert.Equal(NodeUpdateResult.Updated, await Store.ReattestNodeAsync(reattested, None));
        AssertSameNode(reattested with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));

        Assert.Equal(NodeUpdateResult.Updated, await Store.RenewNodeSvidAsync(node.SpiffeId, "ff00", "0e", Start.AddHours(3), None));
        var renewed = reattested with { CreatedAt = Start, PendingCertSerial = "0e", PendingCertNotAfter = Start.AddHours(3) };
        AssertSameNode(renewed, await Store.GetNodeAsync(node.SpiffeId, None));

        Assert.True(await Store.BanNodeAsync(node.SpiffeId, None));
        AssertSameNode(renewed with { Banned = true }, await Store.GetNodeAsync(node.SpiffeId, None));

        Assert.True(await Store.DeleteNodeAsync(node.SpiffeId, None));
        Assert.Null(await Store.GetNodeAsync(node.SpiffeId, None));
        Assert.False(await Store.DeleteNodeAsync(node.SpiffeId, None));
        Assert.False(await Store.BanNodeAsync(node.SpiffeId, None));
    }

    [ContractFact]
    public async Task Node_DuplicateCreateOrAbsentUpdate_ConflictOrNotFound()
    {
        await Store.CreateNodeAsync(Node("n1"), None);

        var conflict = await Assert.ThrowsAsync<DataStoreConflictException>(() => Store.CreateNodeAsync(Node("n1"), None));

        Assert.Equal("node \"spiffe://example.org/anchorage/agent/join_token/n1\" already exists", conflict.Message);
        Assert.Equal(NodeUpdateResult.NotFound, await Store.ReattestNodeAsync(Node("n2"), None));
        Assert.Equal(NodeUpdateResult.NotFound, await Store.RenewNodeSvidAsync(Node("n2").SpiffeId, "0a1b2c", "0d", Start.AddHours(2), None));
        Assert.Null(await Store.GetNodeAsync(Node("n2").SpiffeId, None));
        await Store.CreateNodeAsync(Node("n2"), None);
        Assert.Equal(NodeUpdateResult.Updated, await Store.ReattestNodeAsync(Node("n2"), None));
    }

    [ContractFact]
    public async Task Node_BannedOrSerialMovedOn_RenewAndReattestChangeNothing()
    {
        var node = Node("n1");
        await Store.CreateNodeAsync(node, None);

        Assert.Equal(NodeUpdateResult.Conflict, await Store.RenewNodeSvidAsync(node.SpiffeId, "0bad", "0d", Start.AddHours(2), None));
        AssertSameNode(node with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));
        Assert.True(await Store.BanNodeAsync(node.SpiffeId, None));
        Assert.Equal(NodeUpdateResult.Banned, await Store.RenewNodeSvidAsync(node.SpiffeId, "0a1b2c", "0d", Start.AddHours(2), None));
        Assert.Equal(NodeUpdateResult.Banned, await Store.ReattestNodeAsync(node with { CertSerial = "0e" }, None));

        AssertSameNode(node with { CreatedAt = Start, Banned = true }, await Store.GetNodeAsync(node.SpiffeId, None));
    }

    [ContractFact]
    public async Task Node_PendingSvid_StoredReplacedAndClearedByReattestation()
    {
        var node = Node("n1") with { PendingCertSerial = "0d", PendingCertNotAfter = Start.AddHours(2) };
        await Store.CreateNodeAsync(node, None);
        AssertSameNode(node with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));

        Assert.Equal(NodeUpdateResult.Updated, await Store.RenewNodeSvidAsync(node.SpiffeId, node.CertSerial, "0e", Start.AddHours(3), None));
        var replaced = node with { PendingCertSerial = "0e", PendingCertNotAfter = Start.AddHours(3) };
        AssertSameNode(replaced with { CreatedAt = Start }, Assert.Single(await Store.ListNodesAsync(None)));

        Assert.Equal(NodeUpdateResult.Updated, await Store.ReattestNodeAsync(replaced, None));
        AssertSameNode(Node("n1") with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));
    }

    [ContractFact]
    public async Task Node_PendingSerialWithoutNotAfter_ArgumentException()
    {
        var half = Node("n1") with { PendingCertSerial = "0d" };

        var create = await Assert.ThrowsAsync<ArgumentException>(() => Store.CreateNodeAsync(half, None));
        await Store.CreateNodeAsync(Node("n1"), None);
        var update = await Assert.ThrowsAsync<ArgumentException>(
            () => Store.ReattestNodeAsync(Node("n1") with { PendingCertNotAfter = Start.AddHours(2) }, None));

        const string message = "node \"spiffe://example.org/anchorage/agent/join_token/n1\" must have both or neither of a pending serial and not-after (Parameter 'node')";
        Assert.Equal(message, create.Message);
        Assert.Equal(message, update.Message);
        await Store.CreateNodeAsync(Node("n2") with { PendingCertSerial = "0d", PendingCertNotAfter = Start.AddHours(2) }, None);
    }

    [ContractFact]
    public async Task PromoteNodeSvid_PendingSerialMatches_BecomesCurrentOtherColumnsKept()
    {
        var node = Node("n1") with { PendingCertSerial = "0d", PendingCertNotAfter = Start.AddHours(2), Banned = true };
        await Store.CreateNodeAsync(node, None);

        Assert.False(await Store.PromoteNodeSvidAsync(node.SpiffeId, "0e", None));
        AssertSameNode(node with { CreatedAt = Start }, await Store.GetNodeAsync(node.SpiffeId, None));
        Assert.True(await Store.PromoteNodeSvidAsync(node.SpiffeId, "0d", None));

        var promoted = node with { CertSerial = "0d", CertNotAfter = Start.AddHours(2), PendingCertSerial = null, PendingCertNotAfter = null, CreatedAt = Start };
        AssertSameNode(promoted, await Store.GetNodeAsync(node.SpiffeId, None));
        Assert.False(await Store.PromoteNodeSvidAsync(node.SpiffeId, "0d", None)); // no longer pending
        Assert.False(await Store.PromoteNodeSvidAsync(Node("absent").SpiffeId, "0d", None));
        AssertSameNode(promoted, await Store.GetNodeAsync(node.SpiffeId, None));
    }

    [ContractFact]
    public async Task ListNodes_Several_AllInSpiffeIdOrderWithGivenCreationTimes()
    {
        await Store.CreateNodeAsync(Node("n2"), None);
        await Store.CreateNodeAsync(Node("n1") with { CreatedAt = Start.AddDays(-1) }, None);

        var nodes = await Store.ListNodesAsync(None);

        Assert.Equal(["n1", "n2"], nodes.Select(n => n.SpiffeId.Path[^2..]));
        Assert.Equal(Start.AddDays(-1), nodes[0].CreatedAt);
        Assert.Equal(Start, nodes[1].CreatedAt);
    }

    // ---- CA journal ----

    private static AuthorityRecord X509Authority(string id, AuthorityState state) => new()
    {
        Id = id,
        Kind = AuthorityKind.X509,
        ServerId = "server-a",
        State = state,
        CertificateDer = TestAuthorities.Ca("example.org").RawData,
        UpstreamChainDer = [0x30, 0x00],
        NotBefore = Start,
        NotAfter = Start.AddDays(1),
    };

    [ContractFact]
    public async Task CreateAuthority_ThenConditionalChanges_ListsLatestStateWithFirstCreationTime()
    {
        var jwt = new AuthorityRecord
        {
            Id = "kid-1",
            Kind = AuthorityKind.Jwt,
            ServerId = "server-b",
            State = AuthorityState.Active,
            PublicKey = TestAuthorities.Jwt("kid-1").SubjectPublicKeyInfo.ToArray(),
            NotBefore = Start,
            NotAfter = Start.AddDays(1),
        };
        await Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Prepared), None);
        await Store.CreateAuthorityAsync(jwt, None);
        Clock.Advance(TimeSpan.FromHours(1));
        Assert.True(await Store.ActivateAuthorityAsync(AuthorityKind.X509, "aa", None));

        var list = await Store.ListAuthoritiesAsync(None);

        Assert.Equal([(AuthorityKind.Jwt, "kid-1"), (AuthorityKind.X509, "aa")], list.Select(a => (a.Kind, a.Id)));
        var x509 = list[1];
        Assert.Equal(AuthorityState.Active, x509.State);
        Assert.False(x509.Tainted);
        Assert.Equal(Start, x509.CreatedAt);
        Assert.Equal(TestAuthorities.Ca("example.org").RawData, x509.CertificateDer);
        Assert.Equal(new byte[] { 0x30, 0x00 }, x509.UpstreamChainDer);
        Assert.Null(x509.PublicKey);
        Assert.Equal(jwt.PublicKey, list[0].PublicKey);
        Assert.Equal(AuthorityState.Active, list[0].State);
        Assert.Null(list[0].CertificateDer);
        Assert.Equal("server-b", list[0].ServerId);
        Assert.Equal(Start.AddDays(1), list[0].NotAfter);
        var duplicate = await Assert.ThrowsAsync<DataStoreConflictException>(() => Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Prepared), None));
        Assert.Equal("x509 authority \"aa\" already exists", duplicate.Message);
        Assert.Equal(AuthorityState.Active, (await Store.ListAuthoritiesAsync(None))[1].State);
    }

    [ContractFact]
    public async Task ActivateAuthority_Prepared_ActiveAndOwnersPreviousActiveOld()
    {
        await Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Active), None);
        await Store.CreateAuthorityAsync(X509Authority("bb", AuthorityState.Prepared), None);
        await Store.CreateAuthorityAsync(X509Authority("cc", AuthorityState.Active) with { ServerId = "server-b" }, None);

        Assert.False(await Store.ActivateAuthorityAsync(AuthorityKind.X509, "aa", None)); // not prepared
        Assert.False(await Store.ActivateAuthorityAsync(AuthorityKind.Jwt, "bb", None)); // other kind
        Assert.True(await Store.ActivateAuthorityAsync(AuthorityKind.X509, "bb", None));
        Assert.False(await Store.ActivateAuthorityAsync(AuthorityKind.X509, "bb", None)); // already active

        Assert.Equal(
            [("aa", AuthorityState.Old), ("bb", AuthorityState.Active), ("cc", AuthorityState.Active)],
            (await Store.ListAuthoritiesAsync(None)).Select(a => (a.Id, a.State)));
    }

    [ContractFact]
    public async Task TaintRevokeDemote_OnlyFromTheirStates_FalseOtherwise()
    {
        await Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Old), None);
        await Store.CreateAuthorityAsync(X509Authority("bb", AuthorityState.Active), None);
        await Store.CreateAuthorityAsync(X509Authority("cc", AuthorityState.Prepared), None);

        Assert.False(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "aa", None)); // old, not tainted
        Assert.False(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "bb", None)); // active
        Assert.False(await Store.TaintAuthorityAsync(AuthorityKind.X509, "bb", None)); // active
        Assert.False(await Store.TaintAuthorityAsync(AuthorityKind.X509, "cc", None)); // prepared
        Assert.True(await Store.TaintAuthorityAsync(AuthorityKind.X509, "aa", None));
        Assert.False(await Store.TaintAuthorityAsync(AuthorityKind.X509, "aa", None)); // already tainted
        Assert.False(await Store.DemoteAuthorityAsync(AuthorityKind.X509, "aa", None)); // already old
        Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "aa", None));
        Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "cc", None));
        Assert.False(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "cc", None));
        Assert.True(await Store.DemoteAuthorityAsync(AuthorityKind.X509, "bb", None));

        var left = Assert.Single(await Store.ListAuthoritiesAsync(None));
        Assert.Equal(("bb", AuthorityState.Old, false), (left.Id, left.State, left.Tainted));
        Assert.False(await Store.ActivateAuthorityAsync(AuthorityKind.X509, "cc", None)); // revoked stays gone
        Assert.Single(await Store.ListAuthoritiesAsync(None));
    }

    [ContractFact]
    public async Task DeleteAuthority_ByKindAndId_TrueOnceOthersKept()
    {
        await Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Old), None);
        await Store.CreateAuthorityAsync(X509Authority("bb", AuthorityState.Active), None);

        Assert.False(await Store.DeleteAuthorityAsync(AuthorityKind.Jwt, "aa", None));
        Assert.True(await Store.DeleteAuthorityAsync(AuthorityKind.X509, "aa", None));
        Assert.False(await Store.DeleteAuthorityAsync(AuthorityKind.X509, "aa", None));
        Assert.Equal(["bb"], (await Store.ListAuthoritiesAsync(None)).Select(a => a.Id));
    }

    // ---- bundles ----

    private static SpiffeBundle Bundle(int x509Slots = 1, string[]? kids = null, TimeSpan? hint = null, ulong? sequence = null, string td = "example.org") =>
        new(
            TrustDomain.Parse(td),
            Enumerable.Range(0, x509Slots).Select(slot => TestAuthorities.Ca(td, slot: slot)),
            (kids ?? ["k1"]).Select((kid, i) => TestAuthorities.Jwt(kid, slot: i)),
            sequence,
            hint);

    [ContractFact]
    public async Task PublishBundle_ContentChangesOnly_BumpSequence()
    {
        var first = await Store.PublishBundleAsync(Bundle(sequence: 77), None);
        Assert.Equal(1UL, first.Bundle.SequenceNumber);
        Assert.Equal(Start, first.UpdatedAt);

        Clock.Advance(TimeSpan.FromMinutes(1));
        var same = await Store.PublishBundleAsync(Bundle(sequence: 5), None);
        Assert.Equal(1UL, same.Bundle.SequenceNumber);
        Assert.Equal(Start, same.UpdatedAt);

        var moreX509 = await Store.PublishBundleAsync(Bundle(x509Slots: 2), None);
        Assert.Equal(2UL, moreX509.Bundle.SequenceNumber);
        Assert.Equal(Start.AddMinutes(1), moreX509.UpdatedAt);

        Assert.Equal(3UL, (await Store.PublishBundleAsync(Bundle(x509Slots: 2, kids: ["k1", "k2"]), None)).Bundle.SequenceNumber);
        Assert.Equal(4UL, (await Store.PublishBundleAsync(Bundle(x509Slots: 2, kids: ["k1", "k2"], hint: TimeSpan.FromMinutes(5)), None)).Bundle.SequenceNumber);

        // A sub-second difference in the hint is no change: the document stores whole seconds.
        Assert.Equal(4UL, (await Store.PublishBundleAsync(Bundle(x509Slots: 2, kids: ["k1", "k2"], hint: TimeSpan.FromMinutes(5) - TimeSpan.FromMilliseconds(1)), None)).Bundle.SequenceNumber);
        Assert.Equal(5UL, (await Store.PublishBundleAsync(Bundle(x509Slots: 2, kids: ["k1", "k2"]), None)).Bundle.SequenceNumber);

        var stored = await Store.GetBundleAsync(Td, None);
        Assert.Equal(5UL, stored!.Bundle.SequenceNumber);
        Assert.Equal(2, stored.Bundle.X509Authorities.Length);
        Assert.Equal(["k1", "k2"], stored.Bundle.JwtAuthorities.Select(a => a.KeyId).Order());
    }

    [ContractFact]
    public async Task PublishBundle_8ConcurrentPublishersOnTwoStores_SequenceNeverRepeatsAndEndsAtChangeCount()
    {
        var second = await OpenAsync();
        var results = new ConcurrentBag<ulong>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            for (var round = 0; round < 10; round++)
            {
                // Alternating content: whether a publish changes the bundle depends on who ran last.
                var bundle = Bundle(x509Slots: 1 + ((p + round) % 2));
                var stored = await (p % 2 == 0 ? Store : second).PublishBundleAsync(bundle, None);
                results.Add(stored.Bundle.SequenceNumber!.Value);
            }
        })));

        var final = (await Store.GetBundleAsync(Td, None))!.Bundle.SequenceNumber!.Value;
        var distinct = results.Distinct().Order().ToArray();
        Assert.Equal(final, distinct[^1]);

        // Every sequence from 1 to the last was handed out (no gap, no repeat of a change).
        Assert.Equal(Enumerable.Range(1, (int)final).Select(i => (ulong)i), distinct);
    }

    [ContractFact]
    public async Task SetBundle_GetListDelete_StoredAsGiven()
    {
        var federated = Bundle(td: "payments.example.com", sequence: 42, hint: TimeSpan.FromSeconds(300));
        await Store.SetBundleAsync(federated, None);
        await Store.PublishBundleAsync(Bundle(), None);

        var got = await Store.GetBundleAsync(federated.TrustDomain, None);
        Assert.NotNull(got);
        Assert.Equal(federated.ToUtf8Json(), got.Bundle.ToUtf8Json());
        Assert.Equal(Start, got.UpdatedAt);
        Assert.Equal(["example.org", "payments.example.com"], (await Store.ListBundlesAsync(None)).Select(b => b.Bundle.TrustDomain.Name));

        // Setting replaces as given, even with a lower sequence (an operator's `bundle set`).
        await Store.SetBundleAsync(Bundle(td: "payments.example.com", sequence: 7), None);
        Assert.Equal(7UL, (await Store.GetBundleAsync(federated.TrustDomain, None))!.Bundle.SequenceNumber);

        Assert.True(await Store.DeleteBundleAsync(federated.TrustDomain, None));
        Assert.Null(await Store.GetBundleAsync(federated.TrustDomain, None));
        Assert.False(await Store.DeleteBundleAsync(federated.TrustDomain, None));
        Assert.Single(await Store.ListBundlesAsync(None));
    }

    [ContractFact]
    public async Task PublishBundle_AfterSetWithoutSequence_StartsAtOne()
    {
        await Store.SetBundleAsync(Bundle(x509Slots: 2), None);

        Assert.Equal(1UL, (await Store.PublishBundleAsync(Bundle(), None)).Bundle.SequenceNumber);
    }

    // ---- bad data read back ----

    [ContractFact]
    public async Task GetBundle_CorruptDocument_InvalidDataExceptionNamingTableAndKey()
    {
        await Store.PublishBundleAsync(Bundle(), None);
        await Store.SetBundleAsync(Bundle(td: "other.example"), None);
        await Backend.ExecuteScalarAsync("UPDATE bundles SET document = '{\"keys\": 7}' WHERE trust_domain = 'example.org'");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Store.GetBundleAsync(Td, None));

        Assert.StartsWith("corrupt row in table bundles (key \"example.org\"), column document: not a SPIFFE bundle: ", ex.Message);
        await Assert.ThrowsAsync<InvalidDataException>(() => Store.PublishBundleAsync(Bundle(), None));
        Assert.NotNull(await Store.GetBundleAsync(TrustDomain.Parse("other.example"), None));
    }

    [ContractFact]
    public async Task GetEntry_CorruptColumns_InvalidDataExceptionNamingTableKeyAndColumn()
    {
        await Store.CreateEntryAsync(Entry("e1", "/1"), None);
        await Store.CreateEntryAsync(Entry("e2", "/2"), None);
        await Store.CreateEntryAsync(Entry("e3", "/3"), None);
        await Backend.ExecuteScalarAsync("UPDATE entries SET spiffe_id = 'not a spiffe id' WHERE id = 'e1'");
        await Backend.ExecuteScalarAsync("UPDATE entries SET selectors = '[\"unix:uid:1\", 5]' WHERE id = 'e2'");

        var id = await Assert.ThrowsAsync<InvalidDataException>(() => Store.GetEntryAsync("e1", None));
        var selectors = await Assert.ThrowsAsync<InvalidDataException>(() => Store.GetEntryAsync("e2", None));

        Assert.StartsWith("corrupt row in table entries (key \"e1\"), column spiffe_id: ", id.Message);
        Assert.Equal("corrupt row in table entries (key \"e2\"), column selectors: not a JSON array of strings", selectors.Message);
        Assert.NotNull(await Store.GetEntryAsync("e3", None));
    }

    // ---- federation relationships ----

    private static readonly TrustDomain Payments = TrustDomain.Parse("payments.example.com");

    private static FederationRelationship Relationship(string td = "payments.example.com", string owner = "payments-platform@example.com") => new()
    {
        Endpoint = new BundleEndpoint
        {
            TrustDomain = TrustDomain.Parse(td),
            Url = new Uri($"https://{td}:8443/"),
            Profile = BundleEndpointProfile.HttpsSpiffe,
            EndpointSpiffeId = SpiffeId.Parse($"spiffe://{td}/anchorage/server"),
        },
        Name = td,
        Owner = owner,
        MaxStaleness = TimeSpan.FromMinutes(30),
    };

    [ContractFact]
    public async Task CreateRelationship_New_StoresEveryFieldWithEmptyRefreshState()
    {
        var spiffe = Relationship("web.example.net");
        var web = spiffe with
        {
            Endpoint = spiffe.Endpoint with
            {
                Profile = BundleEndpointProfile.HttpsWeb,
                EndpointSpiffeId = null,
                CaBundlePem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            },
            Name = "web",
            MaxStaleness = TimeSpan.FromSeconds(90),
        };

        var stored = await Store.CreateRelationshipAsync(web, None);

        Assert.Equal(web with { CreatedAt = Start, UpdatedAt = Start, Revision = 1 }, stored);
        var got = await Store.GetRelationshipAsync(web.TrustDomain, None);
        Assert.NotNull(got);
        Assert.Equal(stored, got.Value.Relationship);
        Assert.Equal(new FederationRefreshState(), got.Value.State);
        Assert.Null(await Store.GetRelationshipAsync(Payments, None));
    }

    [ContractFact]
    public async Task UpdateRelationship_AtStoredRevision_ReplacesDeclarationKeepsCreatedAtAndRefreshState()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        var state = new FederationRefreshState
        {
            LastSuccess = Start.AddMinutes(1),
            LastAttempt = Start.AddMinutes(2),
            LastError = "bundle endpoint answered 503",
            LastErrorAt = Start.AddMinutes(2),
            NextRefresh = Start.AddMinutes(3),
            ConsecutiveFailures = 1,
        };
        await Store.UpdateRefreshStateAsync(Payments, state, None);
        Clock.Advance(TimeSpan.FromMinutes(5));

        var replaced = await Store.UpdateRelationshipAsync(
            Relationship(owner: "new-owner@example.com") with { CreatedAt = Start.AddDays(-9), Revision = 1 }, None);

        Assert.Equal(2, replaced.Revision);
        Assert.Equal(Start, replaced.CreatedAt);
        Assert.Equal(Start.AddMinutes(5), replaced.UpdatedAt);
        var got = (await Store.GetRelationshipAsync(Payments, None))!.Value;
        Assert.Equal("new-owner@example.com", got.Relationship.Owner);
        Assert.Equal(replaced, got.Relationship);
        Assert.Equal(state, got.State);
    }

    [ContractFact]
    public async Task ListRelationships_Several_OrderedByTrustDomain()
    {
        await Store.CreateRelationshipAsync(Relationship("zeta.example"), None);
        await Store.CreateRelationshipAsync(Relationship("alpha.example"), None);
        await Store.CreateRelationshipAsync(Relationship(), None);

        var list = await Store.ListRelationshipsAsync(None);

        Assert.Equal(["alpha.example", "payments.example.com", "zeta.example"], list.Select(r => r.Relationship.TrustDomain.Name));
        Assert.All(list, r => Assert.Equal(new FederationRefreshState(), r.State));
    }

    [ContractFact]
    public async Task DeleteRelationship_Existing_DeletesItAndItsBundleOnly()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.CreateRelationshipAsync(Relationship("other.example"), None);
        await Store.SetBundleAsync(Bundle(td: Payments.Name, sequence: 3), None);
        await Store.SetBundleAsync(Bundle(td: "other.example", sequence: 4), None);
        await Store.PublishBundleAsync(Bundle(), None);

        Assert.True(await Store.DeleteRelationshipAsync(Payments, None));

        Assert.Null(await Store.GetRelationshipAsync(Payments, None));
        Assert.Null(await Store.GetBundleAsync(Payments, None));
        Assert.Equal(["example.org", "other.example"], (await Store.ListBundlesAsync(None)).Select(b => b.Bundle.TrustDomain.Name));
        Assert.Equal(["other.example"], (await Store.ListRelationshipsAsync(None)).Select(r => r.Relationship.TrustDomain.Name));
        Assert.False(await Store.DeleteRelationshipAsync(Payments, None));
    }

    [ContractFact]
    public async Task DeleteRelationship_Absent_FalseAndBundleKept()
    {
        await Store.SetBundleAsync(Bundle(td: Payments.Name, sequence: 3), None);

        Assert.False(await Store.DeleteRelationshipAsync(Payments, None));

        Assert.NotNull(await Store.GetBundleAsync(Payments, None));
    }

    [ContractFact]
    public async Task UpdateRefreshState_Absent_NotFound()
    {
        var ex = await Assert.ThrowsAsync<DataStoreNotFoundException>(
            () => Store.UpdateRefreshStateAsync(Payments, new FederationRefreshState { ConsecutiveFailures = 1 }, None));

        Assert.Equal("federation relationship \"payments.example.com\" not found", ex.Message);
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.UpdateRefreshStateAsync(Payments, new FederationRefreshState { ConsecutiveFailures = 1 }, None);
        Assert.Equal(1, (await Store.GetRelationshipAsync(Payments, None))!.Value.State.ConsecutiveFailures);
    }

    [ContractFact]
    public async Task UpdateRefreshState_BackToEmpty_NullsStored()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.UpdateRefreshStateAsync(Payments, new FederationRefreshState { LastError = "x", LastErrorAt = Start, ConsecutiveFailures = 2 }, None);

        await Store.UpdateRefreshStateAsync(Payments, new FederationRefreshState(), None);

        Assert.Equal(new FederationRefreshState(), (await Store.GetRelationshipAsync(Payments, None))!.Value.State);
    }

    [ContractFact]
    public async Task CreateRelationship_OnSecondStore_VisibleToFirst()
    {
        var second = await OpenAsync();

        await second.CreateRelationshipAsync(Relationship(), None);

        Assert.NotNull(await Store.GetRelationshipAsync(Payments, None));
    }

    // ---- communication policy ----

    private static string PolicyText(string name = "acme", string action = "allow") =>
        $"apiVersion: anchorage.dev/v1alpha1\nkind: CommunicationPolicy\nmetadata: {{ name: {name} }}\nspec:\n  rules:\n" +
        $"    - name: r\n      action: {action}\n      from: {{ trustDomain: example.org }}\n      to: {{ trustDomain: example.org }}\n";

    [ContractFact]
    public async Task GetPolicy_NoneApplied_NullAndVersionZero()
    {
        Assert.Null(await Store.GetPolicyAsync(None));
        Assert.Equal(0, await Store.GetPolicyVersionAsync(None));

        // Positive control: the same reads see a stored policy.
        await Store.PutPolicyAsync("acme", PolicyText(), None);
        Assert.NotNull(await Store.GetPolicyAsync(None));
        Assert.Equal(1, await Store.GetPolicyVersionAsync(None));
    }

    [ContractFact]
    public async Task PutPolicy_First_StoredVerbatimAsVersion1()
    {
        var text = PolicyText() + "# trailing comment, kept\n";

        var (stored, changed) = await Store.PutPolicyAsync("acme", text, None);

        Assert.True(changed);
        Assert.Equal(new StoredPolicy("acme", text, 1, Start), stored);
        Assert.Equal(TimeSpan.Zero, stored.UpdatedAt.Offset);
        Assert.Equal(stored, await Store.GetPolicyAsync(None));
    }

    [ContractFact]
    public async Task PutPolicy_TextChangesOnly_BumpVersionAndTime()
    {
        await Store.PutPolicyAsync("acme", PolicyText(), None);
        Clock.Advance(TimeSpan.FromMinutes(1));

        var (same, sameChanged) = await Store.PutPolicyAsync("acme", PolicyText(), None);
        Assert.False(sameChanged);
        Assert.Equal(new StoredPolicy("acme", PolicyText(), 1, Start), same);

        var (deny, denyChanged) = await Store.PutPolicyAsync("acme", PolicyText(action: "deny"), None);
        Assert.True(denyChanged);
        Assert.Equal(new StoredPolicy("acme", PolicyText(action: "deny"), 2, Start.AddMinutes(1)), deny);

        // Any byte counts: a renamed policy, or only whitespace, is a new version.
        Clock.Advance(TimeSpan.FromMinutes(1));
        var (renamed, _) = await Store.PutPolicyAsync("acme-2", PolicyText("acme-2", "deny"), None);
        Assert.Equal(3, renamed.Version);
        Assert.Equal("acme-2", renamed.Name);
        Assert.Equal(4, (await Store.PutPolicyAsync("acme-2", PolicyText("acme-2", "deny") + "\n", None)).Policy.Version);
        Assert.Equal(new StoredPolicy("acme-2", PolicyText("acme-2", "deny") + "\n", 4, Start.AddMinutes(2)), await Store.GetPolicyAsync(None));
        Assert.Equal(4, await Store.GetPolicyVersionAsync(None));
    }

    [ContractFact]
    public async Task PutPolicy_8ConcurrentWritersOnTwoStores_VersionNeverRepeatsAndEndsAtChangeCount()
    {
        var second = await OpenAsync();
        var results = new ConcurrentBag<(long Version, bool Changed)>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            for (var round = 0; round < 10; round++)
            {
                // Alternating text: whether a write changes the policy depends on who ran last.
                var text = PolicyText(action: (p + round) % 2 == 0 ? "allow" : "deny");
                var (stored, changed) = await (p % 2 == 0 ? Store : second).PutPolicyAsync("acme", text, None);
                results.Add((stored.Version, changed));
            }
        })));

        var final = await Store.GetPolicyVersionAsync(None);
        var changes = results.Where(r => r.Changed).Select(r => r.Version).Order().ToArray();

        // Every version from 1 to the last was handed out by exactly one changing write.
        Assert.Equal(Enumerable.Range(1, (int)final).Select(i => (long)i), changes);
        Assert.Equal(final, results.Max(r => r.Version));
    }

    [ContractFact]
    public async Task PutPolicy_EmptyName_ArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.PutPolicyAsync("", PolicyText(), None));

        Assert.Null(await Store.GetPolicyAsync(None));
        Assert.Equal(1, (await Store.PutPolicyAsync("acme", PolicyText(), None)).Policy.Version);
    }

    [ContractFact]
    public async Task GetPolicy_CorruptVersion_InvalidDataExceptionNamingTableAndColumn()
    {
        await Store.PutPolicyAsync("acme", PolicyText(), None);
        await Backend.ExecuteScalarAsync("UPDATE policy SET version = 0");

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Store.GetPolicyAsync(None));

        Assert.Equal("corrupt row in table policy (key \"1\"), column version: must be at least 1", ex.Message);
    }

    // ---- lifecycle: reopen, migrations ----

    [ContractFact]
    public async Task Reopen_AfterWrites_DataSurvivesAndMigrationsRunOnce()
    {
        var entry = await Store.CreateEntryAsync(Entry("e1"), None);
        await Store.DeleteEntryAsync(entry.Id, None);
        var kept = await Store.CreateEntryAsync(Entry("e2"), None);
        await Store.CreateJoinTokenAsync(Token("t1", Start.AddHours(1)), None);
        await Store.CreateNodeAsync(Node("n1"), None);
        await Store.CreateAuthorityAsync(X509Authority("aa", AuthorityState.Active), None);
        await Store.PublishBundleAsync(Bundle(), None);
        await Store.DisposeAsync();

        var reopened = await OpenAsync();
        await using var third = await OpenAsync();

        AssertSameEntry(kept, await reopened.GetEntryAsync("e2", None));
        var changes = await reopened.ListEntryChangesAsync(0, 10, None);
        Assert.Equal(["e1"], changes.DeletedIds);
        Assert.Equal(3, changes.Revision);
        Assert.Equal(4, (await reopened.CreateEntryAsync(Entry("e3", "/3"), None)).RevisionNumber);
        Assert.NotNull(await reopened.TakeJoinTokenAsync("t1", None));
        Assert.NotNull(await reopened.GetNodeAsync(Node("n1").SpiffeId, None));
        Assert.Single(await reopened.ListAuthoritiesAsync(None));
        Assert.Equal(1UL, (await reopened.PublishBundleAsync(Bundle(), None)).Bundle.SequenceNumber);
        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM schema_version")));
        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT MAX(version) FROM schema_version")));
    }

    [ContractFact]
    public async Task Open_DatabaseAtSchemaVersion1_UpgradedInPlaceKeepingNodes()
    {
        // A database as schema version 1 left it: a node row without the pending SVID columns that
        // version 2 adds, and version 1 the latest recorded.
        var node = Node("n1");
        var banned = Node("n2") with { Banned = true };
        await Store.CreateNodeAsync(node, None);
        await Store.CreateNodeAsync(banned, None);
        await Store.DisposeAsync();
        await Backend.ExecuteScalarAsync("ALTER TABLE nodes DROP COLUMN pending_cert_serial");
        await Backend.ExecuteScalarAsync("ALTER TABLE nodes DROP COLUMN pending_cert_not_after");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_relationships");
        await Backend.ExecuteScalarAsync("DROP TABLE policy");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_usage");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_fetches");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_held");
        await Backend.ExecuteScalarAsync("DROP TABLE revoked_authorities");
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version >= 2");
        Assert.Equal(1L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT MAX(version) FROM schema_version")));
        await Assert.ThrowsAnyAsync<DbException>(() => Backend.ExecuteScalarAsync("SELECT pending_cert_serial FROM nodes"));

        var upgraded = await OpenAsync();

        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT MAX(version) FROM schema_version")));
        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM schema_version")));
        Assert.Empty(await upgraded.ListRelationshipsAsync(None));
        Assert.Null(await upgraded.GetPolicyAsync(None));
        AssertSameNode(node with { CreatedAt = Start }, await upgraded.GetNodeAsync(node.SpiffeId, None));
        AssertSameNode(banned with { CreatedAt = Start }, await upgraded.GetNodeAsync(banned.SpiffeId, None));
        var renewed = node with { PendingCertSerial = "0d", PendingCertNotAfter = Start.AddHours(2) };
        Assert.Equal(NodeUpdateResult.Updated, await upgraded.RenewNodeSvidAsync(node.SpiffeId, node.CertSerial, "0d", Start.AddHours(2), None));
        AssertSameNode(renewed with { CreatedAt = Start }, await upgraded.GetNodeAsync(node.SpiffeId, None));
        Assert.True(await upgraded.PromoteNodeSvidAsync(node.SpiffeId, "0d", None));
        Assert.Equal("0d", (await upgraded.GetNodeAsync(node.SpiffeId, None))!.CertSerial);
    }

    [ContractFact]
    public async Task Open_DatabaseAtSchemaVersion3_PolicyTableAndRevisionsAddedOthersKept()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.DisposeAsync();
        await Backend.ExecuteScalarAsync("DROP TABLE policy");
        await Backend.ExecuteScalarAsync("ALTER TABLE federation_relationships DROP COLUMN revision");
        await DropApprovalColumnsAsync();
        await Backend.ExecuteScalarAsync("DROP TABLE federation_usage");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_fetches");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_held");
        await Backend.ExecuteScalarAsync("DROP TABLE revoked_authorities");
        await Backend.ExecuteScalarAsync("ALTER TABLE federation_relationships DROP COLUMN clock_skew_ms");
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version >= 4");
        await Assert.ThrowsAnyAsync<DbException>(() => Backend.ExecuteScalarAsync("SELECT COUNT(*) FROM policy"));

        var upgraded = await OpenAsync();

        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT MAX(version) FROM schema_version")));
        Assert.Equal("communication policy", await Backend.ExecuteScalarAsync("SELECT description FROM schema_version WHERE version = 4"));
        Assert.Equal("federation relationship revisions", await Backend.ExecuteScalarAsync("SELECT description FROM schema_version WHERE version = 5"));
        Assert.Equal(1, (await upgraded.GetRelationshipAsync(Payments, None))!.Value.Relationship.Revision);
        Assert.Null(await upgraded.GetPolicyAsync(None));
        Assert.Equal(1, (await upgraded.PutPolicyAsync("acme", PolicyText(), None)).Policy.Version);
    }

    [ContractFact]
    public async Task Open_SchemaNewerThanCode_FailsWithClearMessage()
    {
        await Backend.ExecuteScalarAsync("INSERT INTO schema_version (version, description, applied_at) VALUES (999, 'from the future', 0)");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(OpenAsync);

        Assert.Equal("datastore schema version 999 is newer than this server supports (8); run a newer server or restore a backup", ex.Message);
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version = 999");
        await OpenAsync();
    }
}
