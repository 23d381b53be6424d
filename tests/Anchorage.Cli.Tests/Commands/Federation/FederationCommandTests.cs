using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Anchorage.Testing;
using Anchorage.Testing.Bundles;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Commands.Federation;

/// <summary>The federation verbs: apply (YAML), list, show, refresh, delete, and the JSON object they print.</summary>
public sealed class FederationCommandTests : AdminTestBase, IDisposable
{
    private const long LastRefresh = 1_777_636_800; // 2026-05-01T12:00:00Z

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Indented(string pem, int spaces) =>
        string.Join('\n', pem.TrimEnd().Split('\n').Select(l => new string(' ', spaces) + l));

    private static string SpiffeDoc(string td = "payments.acme.corp", string extra = "") => $"""
        apiVersion: anchorage.dev/v1alpha1
        kind: FederatedTrustDomain
        metadata:
          name: {td}
        spec:
          trustDomain: {td}
          owner: payments-platform@acme.corp
          bundleEndpoint:
            url: https://{td}:8443/
            profile: https_spiffe
            endpointSPIFFEID: spiffe://{td}/anchorage/server
            bootstrapBundle: |
        {Indented(TestAuthorities.Ca(td).ExportCertificatePem(), 6)}
        {extra}  maxStaleness: 30m
        """;

    private static string WebDoc() => $"""
        apiVersion: anchorage.dev/v1alpha1
        kind: FederatedTrustDomain
        metadata:
          name: web
        spec:
          trustDomain: web.example.net
          owner: web-team@acme.corp
          bundleEndpoint:
            url: https://bundles.example.net/web
            profile: https_web
            caBundle: |
        {Indented(TestAuthorities.Ca("private-ca.example.net").ExportCertificatePem(), 6)}
          maxStaleness: 1h30m
        """;

    private string Write(string text)
    {
        var path = Path.Combine(_dir.Path, "federation.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    private static FederationStatus Status(string td = "payments.acme.corp") => new()
    {
        TrustDomain = td,
        Name = td,
        Owner = "payments-platform@acme.corp",
        Profile = "https_spiffe",
        Url = $"https://{td}:8443/",
        EndpointSpiffeId = $"spiffe://{td}/anchorage/server",
        MaxStalenessSeconds = 1800,
        Sequence = 12,
        LastRefresh = LastRefresh,
        LastError = "bundle endpoint answered 503",
        LastErrorAt = LastRefresh + 60,
        NextRefresh = LastRefresh + 300,
        ConsecutiveFailures = 1,
        EarliestAnchorExpiry = LastRefresh + 86400,
        FederatingEntries = 3,
        Flags = { "stale", "expiring" },
        CreatedAt = LastRefresh - 3600,
        UpdatedAt = LastRefresh - 3600,
    };

    [Fact]
    public async Task Apply_TwoDocuments_EachSentAsDeclared()
    {
        Api.On("ApplyFederation", (ApplyFederationRequest r) => Status(r.Relationship.TrustDomain));
        var path = Write(SpiffeDoc() + "\n---\n" + WebDoc());

        var result = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("applied payments.acme.corp\napplied web.example.net\n", result.Out);
        var sent = Api.Requests<ApplyFederationRequest>("ApplyFederation").Select(r => r.Relationship).ToList();
        Assert.Equal(2, sent.Count);
        Assert.Equal("payments.acme.corp", sent[0].TrustDomain);
        Assert.Equal("payments.acme.corp", sent[0].Name);
        Assert.Equal("payments-platform@acme.corp", sent[0].Owner);
        Assert.Equal("https://payments.acme.corp:8443/", sent[0].Url);
        Assert.Equal("https_spiffe", sent[0].Profile);
        Assert.Equal("spiffe://payments.acme.corp/anchorage/server", sent[0].EndpointSpiffeId);
        Assert.Equal(TestAuthorities.Ca("payments.acme.corp").ExportCertificatePem().TrimEnd(), sent[0].BootstrapBundle.TrimEnd());
        Assert.Equal(1800, sent[0].MaxStalenessSeconds);
        Assert.Equal("", sent[0].CaBundle);
        Assert.Equal("web", sent[1].Name);
        Assert.Equal("https_web", sent[1].Profile);
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", sent[1].CaBundle, StringComparison.Ordinal);
        Assert.Equal(5400, sent[1].MaxStalenessSeconds);
    }

    public static TheoryData<string, Func<string>, string> InvalidFiles => new()
    {
        { "wrong kind", () => SpiffeDoc().Replace("kind: FederatedTrustDomain", "kind: Federation", StringComparison.Ordinal), "2: kind \"Federation\" is not FederatedTrustDomain" },
        { "wrong apiVersion", () => SpiffeDoc().Replace("v1alpha1", "v1", StringComparison.Ordinal), "1: apiVersion \"anchorage.dev/v1\" is not anchorage.dev/v1alpha1" },
        { "no owner", () => SpiffeDoc().Replace("  owner: payments-platform@acme.corp\n", "", StringComparison.Ordinal), "6: spec.owner is required" },
        { "http url", () => SpiffeDoc().Replace("url: https://", "url: http://", StringComparison.Ordinal), "9: spec.bundleEndpoint.url \"http://payments.acme.corp:8443/\" must use https" },
        { "unknown profile", () => SpiffeDoc().Replace("profile: https_spiffe", "profile: spiffe", StringComparison.Ordinal), "10: spec.bundleEndpoint.profile \"spiffe\" is not https_web or https_spiffe" },
        {
            "endpoint id elsewhere", () => SpiffeDoc().Replace("endpointSPIFFEID: spiffe://payments.acme.corp/", "endpointSPIFFEID: spiffe://acme.corp/", StringComparison.Ordinal),
            "11: spec.bundleEndpoint.endpointSPIFFEID \"spiffe://acme.corp/anchorage/server\" is not in trust domain \"payments.acme.corp\""
        },
        { "bad staleness", () => SpiffeDoc().Replace("maxStaleness: 30m", "maxStaleness: soon", StringComparison.Ordinal), "" },
        { "unknown key", () => SpiffeDoc(extra: "  refresh: 5m\n"), "" },
        { "duplicate trust domain", WebDoc, "1: spec.trustDomain \"web.example.net\" is already declared at line 1" },
        { "web with endpoint id", () => WebDoc().Replace("trustDomain: web.example.net", "trustDomain: web2.example.net", StringComparison.Ordinal).Replace("profile: https_web", "profile: https_web\n    endpointSPIFFEID: spiffe://web.example.net/x", StringComparison.Ordinal), "11: spec.bundleEndpoint.endpointSPIFFEID is only for profile https_spiffe" },
    };

    [Theory]
    [MemberData(nameof(InvalidFiles))]
    public async Task Apply_InvalidSecondDocument_ErrorWithFileLineAndPath_NothingSent(string defect, Func<string> second, string lineAndMessage)
    {
        Api.On("ApplyFederation", (ApplyFederationRequest r) => Status(r.Relationship.TrustDomain));
        var valid = WebDoc();
        var path = Write(valid + "\n---\n" + second());
        var offset = valid.Split('\n').Length + 1;

        var result = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.Empty(Api.Calls);
        var line = Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: {path}:", line, StringComparison.Ordinal);
        if (lineAndMessage.Length > 0)
        {
            var colon = lineAndMessage.IndexOf(':', StringComparison.Ordinal);
            var expectedLine = int.Parse(lineAndMessage[..colon], System.Globalization.CultureInfo.InvariantCulture) + offset;
            Assert.Equal($"error: {path}:{expectedLine}:{lineAndMessage[(colon + 1)..]}", line);
        }

        Assert.NotEmpty(defect);
    }

    [Fact]
    public async Task Apply_RuleOnlyTheServerHadBefore_SharedValidatorReportsItWithLineAndPath()
    {
        Api.On("ApplyFederation", (ApplyFederationRequest r) => Status(r.Relationship.TrustDomain));
        var path = Write(SpiffeDoc().Replace("url: https://", "url: https://u:p@", StringComparison.Ordinal));

        var result = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Empty(Api.Calls);
        Assert.Equal($"error: {path}:9: spec.bundleEndpoint.url \"https://u:p@payments.acme.corp:8443/\" must not carry user info\n", result.Error);
    }

    [Fact]
    public async Task Apply_MissingEndpointMapping_OneLineNotOnePerField()
    {
        Api.On("ApplyFederation", (ApplyFederationRequest r) => Status(r.Relationship.TrustDomain));
        var doc = "apiVersion: anchorage.dev/v1alpha1\nkind: FederatedTrustDomain\nmetadata:\n  name: x\nspec:\n  trustDomain: x.example\n  owner: o\n  maxStaleness: 5m\n";
        var path = Write(doc);

        var result = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: {path}:6: spec.bundleEndpoint is required\n", result.Error);
    }

    [Fact]
    public async Task Apply_PositiveControlForTheTable_SameShapeAccepted()
    {
        Api.On("ApplyFederation", (ApplyFederationRequest r) => Status(r.Relationship.TrustDomain));
        var path = Write(WebDoc() + "\n---\n" + SpiffeDoc());

        var result = await RunAsync("federation", "apply", "-f", path);

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal(2, Api.Calls.Count);
    }

    [Fact]
    public async Task Apply_ServerRefuses_ExitOneWithTheServersMessage()
    {
        Api.Fail("ApplyFederation", StatusCode.InvalidArgument, "bootstrapBundle is required for profile https_spiffe: no bundle of \"web.example.net\" is stored yet");

        var result = await RunAsync("federation", "apply", "-f", Write(WebDoc()));

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: bootstrapBundle is required for profile https_spiffe: no bundle of \"web.example.net\" is stored yet\n", result.Error);
    }

    [Fact]
    public async Task Show_Json_ObjectWithEveryGovernanceField()
    {
        Api.On("GetFederation", (GetFederationRequest _) => Status());

        var result = await RunAsync("federation", "show", "payments.acme.corp", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("payments.acme.corp", Api.Only<GetFederationRequest>("GetFederation").TrustDomain);
        var o = JsonDocument.Parse(result.Out).RootElement;
        Assert.Equal("payments.acme.corp", o.GetProperty("trustDomain").GetString());
        Assert.Equal("payments-platform@acme.corp", o.GetProperty("owner").GetString());
        Assert.Equal("https_spiffe", o.GetProperty("profile").GetString());
        Assert.Equal("https://payments.acme.corp:8443/", o.GetProperty("url").GetString());
        Assert.Equal(12UL, o.GetProperty("sequence").GetUInt64());
        Assert.Equal("2026-05-01T12:00:00Z", o.GetProperty("lastRefresh").GetString());
        Assert.Equal("bundle endpoint answered 503", o.GetProperty("lastError").GetString());
        Assert.Equal("2026-05-01T12:01:00Z", o.GetProperty("lastErrorAt").GetString());
        Assert.Equal("2026-05-01T12:05:00Z", o.GetProperty("nextRefresh").GetString());
        Assert.Equal("30m", o.GetProperty("maxStaleness").GetString());
        Assert.Equal(1800, o.GetProperty("maxStalenessSeconds").GetInt64());
        Assert.Equal("2026-05-02T12:00:00Z", o.GetProperty("earliestAnchorExpiry").GetString());
        Assert.Equal(3, o.GetProperty("federatingEntries").GetInt64());
        Assert.Equal(1, o.GetProperty("consecutiveFailures").GetInt32());
        Assert.Equal(["stale", "expiring"], o.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task List_Json_ArrayOfTheSameObjectsShowPrints()
    {
        var never = new FederationStatus
        {
            TrustDomain = "web.example.net", Name = "web", Owner = "web-team@acme.corp", Profile = "https_web",
            Url = "https://bundles.example.net/web", MaxStalenessSeconds = 600, Flags = { "unused", "never-fetched" },
        };
        Api.On("ListFederations", (ListFederationsRequest _) => new ListFederationsResponse { Federations = { Status(), never } });
        Api.On("GetFederation", (GetFederationRequest _) => Status());

        var list = await RunAsync("federation", "list", "--output", "json");
        var show = await RunAsync("federation", "show", "payments.acme.corp", "--output", "json");

        Assert.Equal(0, list.ExitCode);
        var items = JsonDocument.Parse(list.Out).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.Equal(JsonSerializer.Serialize(JsonDocument.Parse(show.Out).RootElement), JsonSerializer.Serialize(items[0]));
        Assert.Equal(JsonValueKind.Null, items[1].GetProperty("lastRefresh").ValueKind);
        Assert.Equal(JsonValueKind.Null, items[1].GetProperty("lastError").ValueKind);
        Assert.Equal(JsonValueKind.Null, items[1].GetProperty("endpointSpiffeId").ValueKind);
        Assert.Equal(0UL, items[1].GetProperty("sequence").GetUInt64());
        Assert.Equal(["unused", "never-fetched"], items[1].GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
    }

    [Fact]
    public async Task List_Table_OneRowPerRelationshipWithFlags()
    {
        Api.On("ListFederations", (ListFederationsRequest _) => new ListFederationsResponse { Federations = { Status() } });

        var result = await RunAsync("federation", "list");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("payments.acme.corp", result.Out, StringComparison.Ordinal);
        Assert.Contains("stale, expiring", result.Out, StringComparison.Ordinal);
        Assert.Contains("2026-05-01T12:00:00Z", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refresh_SendsTrustDomain_PrintsFields()
    {
        Api.On("RefreshFederation", (RefreshFederationRequest _) => Status());

        var result = await RunAsync("federation", "refresh", "payments.acme.corp");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal("payments.acme.corp", Api.Only<RefreshFederationRequest>("RefreshFederation").TrustDomain);
        Assert.Contains("sequence:", result.Out, StringComparison.Ordinal);
        Assert.Contains("flags:", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_Existing_SaysSo_Absent_ExitOne()
    {
        Api.On("DeleteFederation", (DeleteFederationRequest _) => new DeleteFederationResponse());

        var deleted = await RunAsync("federation", "delete", "payments.acme.corp");
        Api.Fail("DeleteFederation", StatusCode.NotFound, "no federation relationship with trust domain \"payments.acme.corp\"");
        var absent = await RunAsync("federation", "delete", "payments.acme.corp");

        Assert.Equal((0, "deleted federation relationship payments.acme.corp and its bundle\n"), (deleted.ExitCode, deleted.Out));
        Assert.Equal(1, absent.ExitCode);
        Assert.Equal("error: no federation relationship with trust domain \"payments.acme.corp\"\n", absent.Error);
    }
}
