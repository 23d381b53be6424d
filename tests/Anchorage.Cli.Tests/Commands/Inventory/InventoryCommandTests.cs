using System.Text.Json;
using Anchorage.Cli.Tests.Admin;
using Anchorage.Protos.Admin.V1;
using Microsoft.Extensions.Time.Testing;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Tests.Commands.Inventory;

/// <summary><c>anchorage inventory</c>: the local trust domain and its relationships as a table, JSON or a mermaid graph.</summary>
public sealed class InventoryCommandTests : AdminTestBase
{
    private const long Now = 1_777_636_800; // 2026-05-01T12:00:00Z

    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(Now));

    private static FederationStatus Relationship(string td, string owner, params string[] flags)
    {
        var status = new FederationStatus
        {
            TrustDomain = td,
            Name = td,
            Owner = owner,
            Profile = "https_spiffe",
            Url = $"https://{td}:8443/",
            EndpointSpiffeId = $"spiffe://{td}/anchorage/server",
            MaxStalenessSeconds = 1800,
            Sequence = 4,
            LastRefresh = Now - 3600,
            NextRefresh = Now + 300,
            FederatingEntries = 2,
            CreatedAt = Now - 86400,
            UpdatedAt = Now - 86400,
        };
        status.Flags.AddRange(flags);
        return status;
    }

    private void SetUp(bool bundleEndpoint, params FederationStatus[] relationships)
    {
        Api.On("GetServerInfo", (GetServerInfoRequest _) => new ServerInfo
        {
            TrustDomain = "acme.corp",
            BundleEndpoint = bundleEndpoint ? new BundleEndpointInfo { Profile = "https_spiffe", Listen = "0.0.0.0:8443" } : null,
        });
        Api.On("ListAuthorities", (ListAuthoritiesRequest _) => new ListAuthoritiesResponse
        {
            Authorities =
            {
                new Protos.Admin.V1.Authority { Kind = "x509", Id = "x-active", State = "active", NotBefore = Now - 86400, NotAfter = Now + 86400 * 30, ServerId = "s1" },
                new Protos.Admin.V1.Authority { Kind = "x509", Id = "x-old", State = "old", Tainted = true, NotBefore = Now - 86400 * 60, NotAfter = Now + 86400, ServerId = "s1" },
                new Protos.Admin.V1.Authority { Kind = "jwt", Id = "j-active", State = "active", NotBefore = Now - 86400, NotAfter = Now + 86400 * 30, ServerId = "s1" },
            },
        });
        Api.On("GetBundle", (GetBundleRequest _) => new Common.Bundle { TrustDomain = "acme.corp", Sequence = 7 });
        Api.On("ListFederations", (ListFederationsRequest _) =>
        {
            var response = new ListFederationsResponse();
            response.Federations.AddRange(relationships);
            return response;
        });
    }

    private Task<CliResult> Run(params string[] args) => CliRunner.RunAsync(_time, [.. args, "--socket", Server.SocketPath]);

    private static FederationStatus[] Fixture() =>
    [
        Relationship("payments.acme.corp", "payments-platform@acme.corp", "stale"),
        Relationship("web.example.net", "web \"team\" <web@acme.corp> #1 | ops"),
        Relationship("payments-acme.corp", "mobile@acme.corp", "unused", "never-fetched"),
    ];

    [Fact]
    public async Task Inventory_Mermaid_LocalNodeOnePeerNodeEachEdgesLabelledWithOwnerAndFlags()
    {
        SetUp(bundleEndpoint: true, Fixture());

        var result = await Run("inventory", "--output", "mermaid");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        Assert.Equal(
            """
            graph LR
              acme_corp["acme.corp"]
              payments_acme_corp["payments.acme.corp"]
              web_example_net["web.example.net"]
              payments_acme_corp_2["payments-acme.corp"]
              acme_corp -->|"payments-platform@acme.corp · stale"| payments_acme_corp
              acme_corp -->|"web #quot;team#quot; #lt;web@acme.corp#gt; #35;1 #124; ops"| web_example_net
              acme_corp -->|"mobile@acme.corp · unused · never-fetched"| payments_acme_corp_2

            """.Replace("\r\n", "\n", StringComparison.Ordinal),
            result.Out);
    }

    [Fact]
    public async Task Inventory_MermaidWithoutRelationships_OnlyTheLocalNode()
    {
        SetUp(bundleEndpoint: false);

        var result = await Run("inventory", "-o", "mermaid");

        Assert.Equal((0, "graph LR\n  acme_corp[\"acme.corp\"]\n", string.Empty), (result.ExitCode, result.Out, result.Error));
    }

    [Fact]
    public async Task Inventory_Json_LocalDomainAuthoritiesEndpointAndTheObjectsFederationShowPrints()
    {
        var fixture = Fixture();
        SetUp(bundleEndpoint: true, fixture);
        Api.On("GetFederation", (GetFederationRequest r) => fixture.Single(f => f.TrustDomain == r.TrustDomain));

        var result = await Run("inventory", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var o = JsonDocument.Parse(result.Out).RootElement;
        Assert.Equal("acme.corp", o.GetProperty("trustDomain").GetString());
        Assert.Equal(7UL, o.GetProperty("bundleSequence").GetUInt64());
        var authorities = o.GetProperty("authorities").EnumerateArray().ToList();
        Assert.Equal(["x509/x-active/active/False", "x509/x-old/old/True", "jwt/j-active/active/False"], authorities.Select(a =>
            $"{a.GetProperty("kind").GetString()}/{a.GetProperty("id").GetString()}/{a.GetProperty("state").GetString()}/{a.GetProperty("tainted").GetBoolean()}"));
        Assert.Equal("2026-05-02T12:00:00Z", authorities[1].GetProperty("notAfter").GetString());
        Assert.Equal("https_spiffe", o.GetProperty("bundleEndpoint").GetProperty("profile").GetString());
        Assert.Equal("0.0.0.0:8443", o.GetProperty("bundleEndpoint").GetProperty("listen").GetString());
        var relationships = o.GetProperty("relationships").EnumerateArray().ToList();
        Assert.Equal(3, relationships.Count);
        for (var i = 0; i < fixture.Length; i++)
        {
            var show = await Run("federation", "show", fixture[i].TrustDomain, "--output", "json");
            Assert.Equal(0, show.ExitCode);
            Assert.Equal(Compact(show.Out), Compact(relationships[i].GetRawText()));
        }

        Assert.Equal(3600, relationships[0].GetProperty("ageSeconds").GetInt64());
    }

    [Fact]
    public async Task Inventory_JsonWithoutBundleEndpoint_Null()
    {
        SetUp(bundleEndpoint: false);

        var result = await Run("inventory", "--output", "json");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var o = JsonDocument.Parse(result.Out).RootElement;
        Assert.Equal(JsonValueKind.Null, o.GetProperty("bundleEndpoint").ValueKind);
        Assert.Empty(o.GetProperty("relationships").EnumerateArray());
    }

    [Fact]
    public async Task Inventory_Table_SummaryAuthoritiesAndOneRowPerRelationship()
    {
        SetUp(bundleEndpoint: true, Fixture());

        var result = await Run("inventory");

        Assert.Equal((0, string.Empty), (result.ExitCode, result.Error));
        var lines = result.Out.Split('\n');
        Assert.Equal("trust domain:    acme.corp", lines[0]);
        Assert.Equal("bundle sequence: 7", lines[1]);
        Assert.Equal("bundle endpoint: https_spiffe on 0.0.0.0:8443", lines[2]);
        Assert.Equal("relationships:   3", lines[3]);
        Assert.Contains(lines, l => l.Contains("x-old", StringComparison.Ordinal) && l.Contains("old", StringComparison.Ordinal) && l.Contains("yes", StringComparison.Ordinal) && l.Contains("2026-05-02T12:00:00Z", StringComparison.Ordinal));
        var payments = Assert.Single(lines, l => l.Contains(" payments.acme.corp ", StringComparison.Ordinal));
        Assert.Contains("payments-platform@acme.corp", payments, StringComparison.Ordinal);
        Assert.Contains("stale", payments, StringComparison.Ordinal);
        Assert.Single(lines, l => l.Contains(" web.example.net ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("unused, never-fetched", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Inventory_TableWithoutBundleEndpoint_Dash()
    {
        SetUp(bundleEndpoint: false);

        var result = await Run("inventory");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("bundle endpoint: -", result.Out.Split('\n')[2]);
    }

    [Fact]
    public async Task Inventory_UnknownOutput_ExitTwoNothingSent()
    {
        SetUp(bundleEndpoint: false);

        var result = await Run("inventory", "--output", "dot");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --output \"dot\" is not one of: table, json, mermaid\n", result.Error, StringComparison.Ordinal);
        Assert.Empty(Api.Calls);
    }

    [Fact]
    public async Task Inventory_ServerRefuses_ExitOneWithTheServersMessage()
    {
        SetUp(bundleEndpoint: false);
        Api.Fail("ListFederations", Grpc.Core.StatusCode.PermissionDenied, "caller uid 1000 is not an admin");

        var result = await Run("inventory", "--output", "mermaid");

        Assert.Equal((1, string.Empty, "error: caller uid 1000 is not an admin\n"), (result.ExitCode, result.Out, result.Error));
    }

    private static string Compact(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);
}
