using System.Diagnostics;
using Anchorage.Server.Attestation;
using Anchorage.Server.DataStore;
using Anchorage.Server.Registration;
using Anchorage.Server.Tests.Registration;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.Attestation;

public sealed class AuthorizedEntriesTests : RegistrationFixture
{
    private static readonly SpiffeId OtherAgent = SpiffeId.Parse("spiffe://example.org/anchorage/agent/join_token/fedcba9876543210");

    private static RegistrationEntry E(string id, string spiffePath, SpiffeId parent, params string[] selectors) =>
        Entry(spiffePath, parent, selectors) with { Id = id };

    private static SpiffeId Id(string path) => SpiffeId.FromPath(Td, path);

    private static AttestedNode Node(SpiffeId id, params string[] selectors) => new()
    {
        SpiffeId = id,
        AttestationType = "join_token",
        CertSerial = "1",
        CertNotAfter = Start.AddHours(1),
        Selectors = Selectors(selectors),
    };

    private static readonly AttestedNode Agent = Node(AgentId, "join_token:0123456789abcdef", "join_token:1111111111111111");

    /// <summary>
    /// direct: parented by the agent; blue: a node alias of the agent (both of its selectors match);
    /// red: an alias needing a selector the agent lacks; nested: below direct and below an alias child;
    /// other: another agent's.
    /// </summary>
    private static RegistrationEntry[] Graph() =>
    [
        E("direct", "/direct", AgentId),
        E("alias-blue", "/blue", ServerId, "join_token:0123456789abcdef", "join_token:1111111111111111"),
        E("alias-red", "/red", ServerId, "join_token:0123456789abcdef", "join_token:2222222222222222"),
        E("blue-child", "/blue-child", Id("/blue")),
        E("red-child", "/red-child", Id("/red")),
        E("nested-1", "/nested-1", Id("/direct")),
        E("nested-2", "/nested-2", Id("/nested-1")),
        E("blue-grandchild", "/bg", Id("/blue-child")),
        E("other", "/other", OtherAgent),
        E("other-child", "/other-child", Id("/other")),
    ];

    [Fact]
    public void For_AliasesAndNesting_ExactlyTheReachableEntries()
    {
        var set = AuthorizedEntries.Create(Td, Graph()).For(Agent);

        Assert.Equal(["blue-child", "blue-grandchild", "direct", "nested-1", "nested-2"], set.Entries.Select(e => e.Id));
        Assert.Equal([Id("/blue")], set.AliasIds.ToArray());
        Assert.True(set.Contains("direct"));
        Assert.False(set.Contains("alias-blue"));

        // Control: the other agent gets its own entries only; a node holding red's selectors gets red's.
        var other = AuthorizedEntries.Create(Td, Graph()).For(Node(OtherAgent, "join_token:fedcba9876543210"));
        Assert.Equal(["other", "other-child"], other.Entries.Select(e => e.Id));
        var red = AuthorizedEntries.Create(Td, Graph()).For(Node(OtherAgent, "join_token:0123456789abcdef", "join_token:2222222222222222"));
        Assert.Equal(["other", "other-child", "red-child"], red.Entries.Select(e => e.Id));
    }

    [Fact]
    public void For_DepthBound_StopsAtMaxDepth()
    {
        var chain = new List<RegistrationEntry> { E("l1", "/l1", AgentId) };
        for (var i = 2; i <= 5; i++)
        {
            chain.Add(E("l" + i, "/l" + i, Id("/l" + (i - 1))));
        }

        Assert.Equal(["l1", "l2", "l3"], AuthorizedEntries.Create(Td, chain, maxDepth: 3).For(Agent).Entries.Select(e => e.Id));
        Assert.Equal(5, AuthorizedEntries.Create(Td, chain).For(Agent).Entries.Length);
    }

    [Fact]
    public void For_Cycle_Terminates()
    {
        RegistrationEntry[] entries = [E("a", "/a", AgentId), E("b", "/b", Id("/a")), E("c", "/a", Id("/b"))];

        Assert.Equal(["a", "b", "c"], AuthorizedEntries.Create(Td, entries).For(Agent).Entries.Select(e => e.Id));
    }

    [Fact]
    public async Task LoadAsync_FromSqliteInPages_SameAsInMemory()
    {
        foreach (var entry in Graph())
        {
            await Store.CreateEntryAsync(entry, None);
        }

        for (var i = 0; i < 25; i++)
        {
            await Store.CreateEntryAsync(E("bulk-" + i.ToString("D2"), "/bulk/" + i, i % 2 == 0 ? AgentId : OtherAgent), None);
        }

        var loaded = await AuthorizedEntries.LoadAsync(Store, Td, pageSize: 4, cancellationToken: None);
        var expected = AuthorizedEntries.Create(Td, (await Store.ListEntriesAsync(new EntryQuery { PageSize = 10000 }, None)).Entries);

        Assert.Equal(35, loaded.Count);
        Assert.Equal(expected.For(Agent).Entries.Select(e => e.Id), loaded.For(Agent).Entries.Select(e => e.Id));
        Assert.Equal(5 + 13, loaded.For(Agent).Entries.Length);
    }

    public static TheoryData<string, bool> Changes => new()
    {
        { "update-held", true },
        { "new-under-agent", true },
        { "new-under-alias", true },
        { "new-under-held", true },
        { "move-held-away", true },
        { "alias-gains-match", true },
        { "alias-loses-match", true },
        { "held-becomes-alias", true },
        { "alias-becomes-workload-entry", true },
        { "unrelated-new", false },
        { "other-agent-child", false },
        { "alias-not-matching", false },
    };

    private static RegistrationEntry Change(string name) => name switch
    {
        "update-held" => E("direct", "/direct", AgentId) with { Hint = "x" },
        "new-under-agent" => E("n", "/n", AgentId),
        "new-under-alias" => E("n", "/n", Id("/blue")),
        "new-under-held" => E("n", "/n", Id("/nested-2")),
        "move-held-away" => E("nested-1", "/nested-1", OtherAgent),
        "alias-gains-match" => E("alias-red", "/red", ServerId, "join_token:0123456789abcdef"),
        "alias-loses-match" => E("alias-blue", "/blue", ServerId, "join_token:3333333333333333"),
        "held-becomes-alias" => E("direct", "/direct", ServerId, "join_token:9999999999999999"),
        "alias-becomes-workload-entry" => E("alias-blue", "/blue", Id("/nowhere")),
        "unrelated-new" => E("n", "/n", Id("/nowhere")),
        "other-agent-child" => E("n", "/n", Id("/other")),
        "alias-not-matching" => E("alias-green", "/green", ServerId, "join_token:4444444444444444"),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void IsAffectedBy_Upsert_MatchesRecomputation(string change, bool affected)
    {
        var before = AuthorizedEntries.Create(Td, Graph()).For(Agent);
        var changed = Change(change);
        var after = AuthorizedEntries.Create(Td, Graph().Where(e => e.Id != changed.Id).Append(changed)).For(Agent);

        Assert.Equal(affected, before.IsAffectedBy(changed));
        if (!affected)
        {
            Assert.Equal(before.Entries.Select(e => e.Id), after.Entries.Select(e => e.Id));
            Assert.Equal(before.AliasIds.ToArray(), after.AliasIds.ToArray());
        }
    }

    [Fact]
    public void IsAffectedByDeletion_HeldOrAlias_True_OthersFalse()
    {
        var set = AuthorizedEntries.Create(Td, Graph()).For(Agent);

        Assert.True(set.IsAffectedByDeletion("nested-1"));
        Assert.True(set.IsAffectedByDeletion("alias-blue"));
        Assert.False(set.IsAffectedByDeletion("other"));
        Assert.False(set.IsAffectedByDeletion("alias-red"));
        Assert.True(set.IsAffectedBy(new EntryChanges([Change("unrelated-new")], ["direct"], 9, false)));
        Assert.False(set.IsAffectedBy(new EntryChanges([Change("unrelated-new")], ["other"], 9, false)));
    }

    /// <summary>Random graphs and changes: whenever a change is judged not to affect the set, recomputing gives the same set.</summary>
    [Fact]
    public void IsAffectedBy_RandomChanges_NeverMissesAChange()
    {
        var random = new Random(20250301);
        var node = Node(AgentId, "join_token:0123456789abcdef");
        string[] paths = ["/p0", "/p1", "/p2", "/p3", "/p4", "/p5", "/p6", "/p7"];
        SpiffeId[] parents = [AgentId, OtherAgent, .. paths.Select(Id)];
        string[] nodeSelectors = ["join_token:0123456789abcdef", "join_token:5555555555555555"];
        RegistrationEntry RandomEntry(string id) => random.Next(5) == 0
            ? E(id, paths[random.Next(paths.Length)], ServerId, nodeSelectors[random.Next(2)])
            : E(id, paths[random.Next(paths.Length)], parents[random.Next(parents.Length)]);

        var unaffected = 0;
        for (var round = 0; round < 2000; round++)
        {
            var entries = Enumerable.Range(0, random.Next(1, 12)).Select(i => RandomEntry("e" + i)).ToList();
            var index = AuthorizedEntries.Create(Td, entries, maxDepth: 1 + random.Next(4));
            var before = index.For(node);
            List<RegistrationEntry> after;
            bool affected;
            if (random.Next(4) == 0)
            {
                var victim = entries[random.Next(entries.Count)].Id;
                affected = before.IsAffectedByDeletion(victim);
                after = [.. entries.Where(e => e.Id != victim)];
            }
            else
            {
                var changed = RandomEntry("e" + random.Next(entries.Count + 1));
                affected = before.IsAffectedBy(changed);
                after = [.. entries.Where(e => e.Id != changed.Id).Append(changed)];
            }

            if (!affected)
            {
                unaffected++;
                var recomputed = AuthorizedEntries.Create(Td, after, index.MaxDepth).For(node);
                Assert.Equal(before.Entries.Select(e => e.Id), recomputed.Entries.Select(e => e.Id));
                Assert.Equal(before.AliasIds.ToArray(), recomputed.AliasIds.ToArray());
            }
        }

        Assert.True(unaffected > 200, $"only {unaffected} unaffected changes were checked");
    }

    [Fact]
    public void For_100kEntries_AnswersInProportionToTheResult()
    {
        var entries = new List<RegistrationEntry>(100_000);
        for (var i = 0; i < 100_000; i++)
        {
            // 1000 agents with 100 entries each; agent 7 also holds an alias with 10 entries below it.
            var agent = SpiffeId.FromPath(Td, "/anchorage/agent/join_token/" + (i % 1000).ToString("x16"));
            entries.Add(E("e" + i, "/w/" + i, agent));
        }

        entries.Add(E("alias", "/alias", ServerId, "join_token:0000000000000007"));
        for (var i = 0; i < 10; i++)
        {
            entries.Add(E("a" + i, "/aw/" + i, Id("/alias")));
        }

        var index = AuthorizedEntries.Create(Td, entries);
        var node = Node(SpiffeId.FromPath(Td, "/anchorage/agent/join_token/0000000000000007"), "join_token:0000000000000007");
        index.For(node);

        var watch = Stopwatch.StartNew();
        AuthorizedEntrySet? set = null;
        for (var i = 0; i < 100; i++)
        {
            set = index.For(node);
        }

        watch.Stop();
        Assert.Equal(110, set!.Entries.Length);
        Assert.Equal(100_011, index.Count);

        // 100 lookups of a 110-entry answer; a scan of 100k entries each time would take far longer.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"100 lookups took {watch.Elapsed}");
    }
}
