using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Common.V1;
using Anchorage.Testing;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Commands.Entry;

public sealed class EntryCommandTests : AdminTestBase, IDisposable
{
    private const string Web = "spiffe://acme.corp/web";
    private const string Node = "spiffe://acme.corp/agent/node1";
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Protos.Common.V1.Entry Sample(string id, string spiffeId = Web) => new()
    {
        Id = id,
        SpiffeId = spiffeId,
        ParentId = Node,
        Selectors = { new Selector { Type = "unix", Value = "uid:1000" }, new Selector { Type = "k8s", Value = "ns:web" } },
        X509SvidTtlSeconds = 3600,
        JwtSvidTtlSeconds = 300,
        FederatesWith = { "partner.example" },
        DnsNames = { "web.acme.corp" },
        Hint = "web",
        Admin = true,
        RevisionNumber = 4,
        CreatedAt = 1_763_800_000,
    };

    private void AcceptAll() => Api.On("CreateEntries", (CreateEntriesRequest r) =>
    {
        var response = new CreateEntriesResponse();
        response.Results.AddRange(r.Entries.Select((e, i) => new EntryResult { Entry = new Protos.Common.V1.Entry(e) { Id = "id-" + i } }));
        return response;
    });

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Create_EveryFlag_MapsToTheEntryAndPrintsTheIdAlone()
    {
        AcceptAll();

        var result = await RunAsync(
            "entry", "create", "--spiffe-id", Web, "--parent-id", Node,
            "--selector", "unix:uid:1000", "--selector", "k8s:ns:web",
            "--x509-ttl", "1h", "--jwt-ttl", "5m", "--federates-with", "partner.example", "--federates-with", "spiffe://other.example",
            "--dns", "web.acme.corp", "--dns", "*.web.acme.corp", "--hint", "web", "--admin", "--downstream");

        Assert.Equal((0, "id-0\n", string.Empty), (result.ExitCode, result.Out, result.Error));
        var entry = Assert.Single(Api.Only<CreateEntriesRequest>("CreateEntries").Entries);
        Assert.Equal(new Protos.Common.V1.Entry
        {
            SpiffeId = Web,
            ParentId = Node,
            Selectors = { new Selector { Type = "unix", Value = "uid:1000" }, new Selector { Type = "k8s", Value = "ns:web" } },
            X509SvidTtlSeconds = 3600,
            JwtSvidTtlSeconds = 300,
            FederatesWith = { "partner.example", "other.example" },
            DnsNames = { "web.acme.corp", "*.web.acme.corp" },
            Hint = "web",
            Admin = true,
            Downstream = true,
        }, entry);
    }

    [Fact]
    public async Task Create_MinimalFlags_LeavesTheRestAtServerDefaults()
    {
        AcceptAll();

        var result = await RunAsync("entry", "create", "--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid:1000");

        Assert.Equal(0, result.ExitCode);
        var entry = Assert.Single(Api.Only<CreateEntriesRequest>("CreateEntries").Entries);
        Assert.Equal((0L, 0L, false, false, string.Empty), (entry.X509SvidTtlSeconds, entry.JwtSvidTtlSeconds, entry.Admin, entry.Downstream, entry.Hint));
    }

    [Fact]
    public async Task Create_ServerRejectsTheEntry_ExitsOneWithItsError()
    {
        Api.On("CreateEntries", (CreateEntriesRequest _) => new CreateEntriesResponse
        {
            Results = { new EntryResult { ErrorCode = (int)StatusCode.AlreadyExists, Error = "an entry with these selectors already exists" } },
        });

        var result = await RunAsync("entry", "create", "--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid:1000");

        Assert.Equal((1, string.Empty, "error: an entry with these selectors already exists\n"), (result.ExitCode, result.Out, result.Error));
    }

    public static TheoryData<string[], string> BadFlags => new()
    {
        { ["--parent-id", Node, "--selector", "unix:uid:1"], "error: --spiffe-id is required (or -f FILE)\n" },
        { ["--spiffe-id", Web, "--selector", "unix:uid:1"], "error: --parent-id is required (or -f FILE)\n" },
        { ["--spiffe-id", Web, "--parent-id", Node], "error: --selector is required (or -f FILE)\n" },
        { ["--spiffe-id", "https://acme.corp/web", "--parent-id", Node, "--selector", "unix:uid:1"], "error: --spiffe-id \"https://acme.corp/web\": scheme must be \"spiffe\" followed by \"://\"\n" },
        { ["--spiffe-id", Web, "--parent-id", Node, "--selector", "unix"], "error: --selector \"unix\": must be type:value, e.g. unix:uid:1000\n" },
        { ["--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid 1"], "error: --selector \"unix:uid 1\": contains whitespace or control characters\n" },
        { ["--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid:1", "--federates-with", "Partner.Example"], "error: --federates-with \"Partner.Example\": trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase\n" },
        { ["--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid:1", "--x509-ttl", "1y"], "error: --x509-ttl \"1y\": not a duration such as 90s, 5m, 1h30m or 7d\n" },
        { ["--spiffe-id", Web, "--parent-id", Node, "--selector", "unix:uid:1", "--dns", "bad name"], "error: --dns \"bad name\": not a DNS name\n" },
        { ["-f", "entries.yaml", "--spiffe-id", Web, "--admin"], "error: -f cannot be combined with --spiffe-id, --admin\n" },
    };

    [Theory]
    [MemberData(nameof(BadFlags))]
    public async Task Create_BadFlags_ExitsTwoAndSendsNothing(string[] flags, string error)
    {
        AcceptAll();

        var result = await RunAsync(["entry", "create", .. flags]);

        Assert.Equal((2, string.Empty, error), (result.ExitCode, result.Out, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Create_File_SendsEveryEntryAndPrintsOneIdEach()
    {
        AcceptAll();
        var path = WriteFile("entries.yaml", """
            entries:
              - spiffeId: spiffe://acme.corp/web
                parentId: spiffe://acme.corp/agent/node1
                selectors: [unix:uid:1000, k8s:ns:web]
                x509SvidTtl: 1h
                jwtSvidTtl: 5m
                federatesWith: [partner.example]
                dnsNames: [web.acme.corp]
                hint: web
                admin: true
                downstream: false
              - spiffeId: spiffe://acme.corp/db
                parentId: spiffe://acme.corp/agent/node1
                selectors:
                  - unix:uid:1001
            """);

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal((0, "id-0\nid-1\n", string.Empty), (result.ExitCode, result.Out, result.Error));
        var entries = Api.Only<CreateEntriesRequest>("CreateEntries").Entries;
        Assert.Equal(new Protos.Common.V1.Entry(Sample(string.Empty)) { RevisionNumber = 0, CreatedAt = 0 }, entries[0]);
        Assert.Equal(new Protos.Common.V1.Entry
        {
            SpiffeId = "spiffe://acme.corp/db",
            ParentId = Node,
            Selectors = { new Selector { Type = "unix", Value = "uid:1001" } },
        }, entries[1]);
    }

    [Fact]
    public async Task Create_FileSomeFailOnTheServer_PrintsCreatedIdsAndEachErrorAndExitsOne()
    {
        Api.On("CreateEntries", (CreateEntriesRequest _) => new CreateEntriesResponse
        {
            Results =
            {
                new EntryResult { Entry = new Protos.Common.V1.Entry { Id = "e-web" } },
                new EntryResult { ErrorCode = (int)StatusCode.AlreadyExists, Error = "an entry with these selectors already exists" },
                new EntryResult { Entry = new Protos.Common.V1.Entry { Id = "e-cache" } },
                new EntryResult { ErrorCode = (int)StatusCode.InvalidArgument, Error = "federated trust domain \"nowhere.example\" has no bundle" },
            },
        });
        var path = WriteFile("entries.yaml", """
            entries:
              - {spiffeId: "spiffe://acme.corp/web", parentId: "spiffe://acme.corp/n", selectors: ["unix:uid:1"]}
              - {spiffeId: "spiffe://acme.corp/db", parentId: "spiffe://acme.corp/n", selectors: ["unix:uid:2"]}
              - {spiffeId: "spiffe://acme.corp/cache", parentId: "spiffe://acme.corp/n", selectors: ["unix:uid:3"]}
              - {spiffeId: "spiffe://acme.corp/api", parentId: "spiffe://acme.corp/n", selectors: ["unix:uid:4"], federatesWith: [nowhere.example]}
            """);

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("e-web\ne-cache\n", result.Out);
        Assert.Equal(
            "error: entries[1] (spiffe://acme.corp/db): an entry with these selectors already exists\n" +
            "error: entries[3] (spiffe://acme.corp/api): federated trust domain \"nowhere.example\" has no bundle\n",
            result.Error);
    }

    [Fact]
    public async Task Create_FileWithInvalidItems_ReportsEveryKeyPathAndSendsNothing()
    {
        AcceptAll();
        var path = WriteFile("bad.yaml", """
            entries:
              - spiffeId: spiffe://acme.corp/web
                parentId: spiffe://acme.corp/agent/node1
                selectors: [unix:uid:1000]
              - spiffeId: https://acme.corp/db
                parentId: spiffe://acme.corp/agent/node1
                selectors: [unix, "k8s:ns:db"]
                x509SvidTtl: 1y
                admin: yes
                color: blue
              - parentId: spiffe://acme.corp/agent/node1
                selectors: []
                federatesWith: [Partner.Example]
                dnsNames: web.acme.corp
            """);

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.Equal(
            $"error: {path}: entries[1].spiffeId \"https://acme.corp/db\": scheme must be \"spiffe\" followed by \"://\"\n" +
            $"error: {path}: entries[1].selectors[0] \"unix\": must be type:value, e.g. unix:uid:1000\n" +
            $"error: {path}: entries[1].x509SvidTtl \"1y\": not a duration such as 90s, 5m, 1h30m or 7d\n" +
            $"error: {path}: entries[1].admin must be true or false\n" +
            $"error: {path}: entries[1]: unknown key \"color\"\n" +
            $"error: {path}: entries[2].selectors must list at least one selector\n" +
            $"error: {path}: entries[2].federatesWith[0] \"Partner.Example\": trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase\n" +
            $"error: {path}: entries[2].dnsNames must be a list\n" +
            $"error: {path}: entries[2].spiffeId is required\n",
            result.Error);
        Assert.Empty(Api.Calls);
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "entries: []\n", "entries must list at least one entry" },
        { "entry:\n  - spiffeId: x\n", "unknown key \"entry\"" },
        { "entries: {}\n", "entries must be a list" },
        { "- spiffeId: spiffe://acme.corp/web\n", "must be a mapping with an entries: list" },
        { "entries:\n  - just-a-string\n", "entries[0] must be a mapping" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public async Task Create_FileWithBadShape_SaysWhatIsWrong(string yaml, string error)
    {
        var path = WriteFile("shape.yaml", yaml);

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal((2, $"error: {path}: {error}\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Create_FileNotYaml_NamesLineAndColumn()
    {
        var path = WriteFile("broken.yaml", "entries:\n  - spiffeId: [unclosed\n");

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal((2, $"error: {path}: line 3, column 1: while parsing a flow sequence, did not find expected ',' or ']'\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Create_FileWithDuplicateKey_NamesLineAndColumn()
    {
        var path = WriteFile("dup.yaml", "entries:\n  - spiffeId: spiffe://acme.corp/a\n    spiffeId: spiffe://acme.corp/b\n");

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal((2, $"error: {path}: line 3, column 5: duplicate key spiffeId\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Create_FileMissing_ExitsTwoNamingIt()
    {
        var path = Path.Combine(_dir.Path, "absent.yaml");

        var result = await RunAsync("entry", "create", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"error: entry file {path}: ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_SeveralPages_FollowsTokensWithTheSameFilters()
    {
        Api.On("ListEntries", (ListEntriesRequest r) => r.PageToken switch
        {
            "" => new ListEntriesResponse { Entries = { Sample("e1") }, NextPageToken = "p2" },
            "p2" => new ListEntriesResponse { Entries = { Sample("e2", "spiffe://acme.corp/db") }, NextPageToken = "p3" },
            _ => new ListEntriesResponse { Entries = { Sample("e3", "spiffe://acme.corp/cache") } },
        });

        var result = await RunAsync(
            "entry", "list", "--parent-id", Node, "--spiffe-id", Web, "--selector", "unix:uid:1000", "--federates-with", "partner.example", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        var requests = Api.Requests<ListEntriesRequest>("ListEntries");
        Assert.Equal(["", "p2", "p3"], requests.Select(r => r.PageToken));
        Assert.All(requests, r => Assert.Equal(
            (Node, Web, "unix", "uid:1000", "partner.example", 500),
            (r.ParentId, r.SpiffeId, r.Selector.Type, r.Selector.Value, r.FederatesWith, r.PageSize)));
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal(["e1", "e2", "e3"], json.RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task List_NoFilters_SendsEmptyFilters()
    {
        Api.On("ListEntries", (ListEntriesRequest _) => new ListEntriesResponse());

        var result = await RunAsync("entry", "list");

        Assert.Equal(0, result.ExitCode);
        var request = Api.Only<ListEntriesRequest>("ListEntries");
        Assert.Equal((string.Empty, string.Empty, (Selector?)null, string.Empty), (request.ParentId, request.SpiffeId, request.Selector, request.FederatesWith));
    }

    [Fact]
    public async Task List_ServerRepeatsAPageToken_StopsWithAnError()
    {
        Api.On("ListEntries", (ListEntriesRequest _) => new ListEntriesResponse { Entries = { Sample("e1") }, NextPageToken = "same" });

        var result = await RunAsync("entry", "list");

        Assert.Equal((2, "error: the server repeated page token \"same\"\n"), (result.ExitCode, result.Error));
        Assert.Equal(2, Api.Calls.Count);
    }

    [Fact]
    public async Task List_Json_IsTheProto3JsonMapping()
    {
        Api.On("ListEntries", (ListEntriesRequest _) => new ListEntriesResponse { Entries = { Sample("e1") } });

        var result = await RunAsync("entry", "list", "-o", "json");

        using var json = JsonDocument.Parse(result.Out);
        var entry = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray().ToArray());
        Assert.Equal("spiffe://acme.corp/web", entry.GetProperty("spiffeId").GetString());
        Assert.Equal("spiffe://acme.corp/agent/node1", entry.GetProperty("parentId").GetString());
        Assert.Equal("3600", entry.GetProperty("x509SvidTtlSeconds").GetString());
        Assert.Equal("uid:1000", entry.GetProperty("selectors")[0].GetProperty("value").GetString());
        Assert.True(entry.GetProperty("admin").GetBoolean());

        // Defaults are written too, so every field is always present.
        Assert.False(entry.GetProperty("downstream").GetBoolean());
        Assert.Equal("", json.RootElement.GetProperty("nextPageToken").GetString());
    }

    [Fact]
    public async Task List_Table_ShowsOneRowPerEntry()
    {
        Api.On("ListEntries", (ListEntriesRequest _) => new ListEntriesResponse { Entries = { Sample("e1"), Sample("e2", "spiffe://acme.corp/db") } });

        var result = await RunAsync("entry", "list");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Out.Split('\n');
        Assert.Contains(lines, l => ContainsAll(l, "ID", "SPIFFE ID", "PARENT ID", "SELECTORS", "X509 TTL", "JWT TTL"));
        Assert.Contains(lines, l => ContainsAll(l, "e1", Web, Node, "unix:uid:1000, k8s:ns:web", "1h", "5m"));
        Assert.Contains(lines, l => ContainsAll(l, "e2", "spiffe://acme.corp/db"));
    }

    [Fact]
    public async Task Show_Table_ListsEveryField()
    {
        Api.On("GetEntry", (GetEntryRequest r) => Sample(r.Id));

        var result = await RunAsync("entry", "show", "e1");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("e1", Api.Only<GetEntryRequest>("GetEntry").Id);
        Assert.Equal(
            """
            id:             e1
            spiffe id:      spiffe://acme.corp/web
            parent id:      spiffe://acme.corp/agent/node1
            selectors:      unix:uid:1000, k8s:ns:web
            x509 ttl:       1h
            jwt ttl:        5m
            federates with: partner.example
            dns names:      web.acme.corp
            hint:           web
            admin:          yes
            downstream:     no
            revision:       4
            created:        2025-11-22T08:26:40Z

            """,
            result.Out);
    }

    [Fact]
    public async Task Show_Json_RoundTripsTheEntry()
    {
        Api.On("GetEntry", (GetEntryRequest r) => Sample(r.Id));

        var result = await RunAsync("entry", "show", "e1", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Sample("e1"), Google.Protobuf.JsonParser.Default.Parse<Protos.Common.V1.Entry>(result.Out));
    }

    [Fact]
    public async Task Show_NotFound_ExitsOne()
    {
        Api.Fail("GetEntry", StatusCode.NotFound, "entry \"nope\" not found");

        var result = await RunAsync("entry", "show", "nope");

        Assert.Equal((1, "error: entry \"nope\" not found\n"), (result.ExitCode, result.Error));
    }

    [Fact]
    public async Task Update_SomeFlags_ChangesOnlyThoseFieldsOfTheFetchedEntry()
    {
        Api.On("GetEntry", (GetEntryRequest r) => Sample(r.Id));
        Api.On("UpdateEntry", (UpdateEntryRequest r) => new Protos.Common.V1.Entry(r.Entry) { RevisionNumber = r.Entry.RevisionNumber + 1 });

        var result = await RunAsync("entry", "update", "e1", "--x509-ttl", "2h", "--selector", "unix:uid:2000", "--admin", "false", "--hint", "", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var expected = Sample("e1");
        expected.X509SvidTtlSeconds = 7200;
        expected.Selectors.Clear();
        expected.Selectors.Add(new Selector { Type = "unix", Value = "uid:2000" });
        expected.Admin = false;
        expected.Hint = string.Empty;
        Assert.Equal(expected, Api.Only<UpdateEntryRequest>("UpdateEntry").Entry);
        Assert.Equal(5, Google.Protobuf.JsonParser.Default.Parse<Protos.Common.V1.Entry>(result.Out).RevisionNumber);
    }

    [Fact]
    public async Task Update_NoFlags_ExitsTwoAndSendsNothing()
    {
        var result = await RunAsync("entry", "update", "e1");

        Assert.Equal((2, "error: nothing to update: give at least one entry flag\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Update_BadFlag_ExitsTwoBeforeFetching()
    {
        var result = await RunAsync("entry", "update", "e1", "--jwt-ttl", "soon");

        Assert.Equal((2, "error: --jwt-ttl \"soon\": not a duration such as 90s, 5m, 1h30m or 7d\n"), (result.ExitCode, result.Error));
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Update_StaleRevision_ExitsOneWithTheServersWords()
    {
        Api.On("GetEntry", (GetEntryRequest r) => Sample(r.Id));
        Api.Fail("UpdateEntry", StatusCode.FailedPrecondition, "entry \"e1\" changed since revision 4");

        var result = await RunAsync("entry", "update", "e1", "--downstream");

        Assert.Equal((1, "error: entry \"e1\" changed since revision 4\n"), (result.ExitCode, result.Error));
        Assert.True(Api.Only<UpdateEntryRequest>("UpdateEntry").Entry.Downstream);
    }

    [Fact]
    public async Task Delete_Id_SendsItAndConfirms()
    {
        Api.On("DeleteEntry", (DeleteEntryRequest _) => new DeleteEntryResponse());

        var result = await RunAsync("entry", "delete", "e1");

        Assert.Equal((0, "deleted entry e1\n"), (result.ExitCode, result.Out));
        Assert.Equal("e1", Api.Only<DeleteEntryRequest>("DeleteEntry").Id);
    }

    [Fact]
    public async Task Count_Json_IsTheResponseMessage()
    {
        Api.On("CountEntries", (CountEntriesRequest _) => new CountEntriesResponse { Count = 42 });

        var result = await RunAsync("entry", "count", "--output", "json");

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        Assert.Equal("42", json.RootElement.GetProperty("count").GetString());
    }

    private static bool ContainsAll(string line, params string[] parts) => parts.All(p => line.Contains(p, StringComparison.Ordinal));
}
