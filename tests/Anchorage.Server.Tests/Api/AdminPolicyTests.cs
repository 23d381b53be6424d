using System.Runtime.Versioning;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Agent.V1;
using Anchorage.Server.Api;
using Grpc.Core;
using AdminGetPolicyRequest = Anchorage.Protos.Admin.V1.GetPolicyRequest;
using AgentGetPolicyRequest = Anchorage.Protos.Agent.V1.GetPolicyRequest;

namespace Anchorage.Server.Tests.Api;

/// <summary>
/// The communication policy through the admin API (apply: validation, versions; get) and the agent
/// API (get by known version; the WatchBundles push).
/// </summary>
[SupportedOSPlatform("linux")]
[Trait("Category", "Slow")]
public sealed class AdminPolicyTests : IAsyncLifetime
{
    private ApiTestServer _server = null!;

    private AdminApi.AdminApiClient Admin => _server.Admin;

    public async Task InitializeAsync() => _server = await ApiTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>A two-rule policy; each defect switched on by its flag (all off: valid).</summary>
    private static string Policy(
        string action = "allow", string port = "8443", string secondName = "no-legacy", bool secondHasTo = true, string name = "acme") =>
        $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: {{name}} }
        spec:
          rules:
            - name: web-to-api
              action: {{action}}
              from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:uid:1000"] }
              to: { spiffeId: "spiffe://acme.corp/api", port: {{port}} }
            - name: {{secondName}}
              action: deny
              from: { trustDomain: legacy.acme.corp }
        {{(secondHasTo ? "      to: { trustDomain: acme.corp }\n" : string.Empty)}}
        """;

    private Task<ApplyPolicyResponse> ApplyAsync(string yaml, string source = "policy.yaml") =>
        Admin.ApplyPolicyAsync(new ApplyPolicyRequest { Yaml = yaml, Source = source }).ResponseAsync;

    [Fact]
    public async Task ApplyPolicy_Valid_StoredAsVersion1AndGetReturnsIt()
    {
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var applied = await ApplyAsync(Policy());

        Assert.True(applied.Changed);
        Assert.Equal("acme", applied.Policy.Name);
        Assert.Equal(1, applied.Policy.Version);
        Assert.Equal(Policy(), applied.Policy.Yaml);
        Assert.InRange(applied.Policy.UpdatedAt, before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal(applied.Policy, await Admin.GetPolicyAsync(new AdminGetPolicyRequest()));
    }

    [Fact]
    public async Task ApplyPolicy_SameTextThenChangedText_VersionKeptThenIncremented()
    {
        var first = await ApplyAsync(Policy());

        var same = await ApplyAsync(Policy());
        Assert.False(same.Changed);
        Assert.Equal(first.Policy, same.Policy);

        var changed = await ApplyAsync(Policy(action: "deny"));
        Assert.True(changed.Changed);
        Assert.Equal(2, changed.Policy.Version);
        Assert.Equal(3, (await ApplyAsync(Policy(name: "acme-v3"))).Policy.Version);
        var got = await Admin.GetPolicyAsync(new AdminGetPolicyRequest());
        Assert.Equal("acme-v3", got.Name);
        Assert.Equal(3, got.Version);
    }

    [Fact]
    public async Task ApplyPolicy_Invalid_InvalidArgumentWithEveryErrorAndNothingStored()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ApplyAsync(
            Policy(action: "maybe", port: "99999", secondName: "web-to-api", secondHasTo: false), "/etc/anchorage/policy.yaml"));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal(
            [
                "/etc/anchorage/policy.yaml:7: spec.rules[0].action: \"maybe\" is not allow or deny",
                "/etc/anchorage/policy.yaml:9: spec.rules[0].to.port: \"99999\" is not a port (a number from 1 to 65535)",
                "/etc/anchorage/policy.yaml:10: spec.rules[1].name: \"web-to-api\" is already the name of spec.rules[0]",
                "/etc/anchorage/policy.yaml:10: spec.rules[1].to: required (a rule must name the accepting side: spiffeId or trustDomain)",
            ],
            e.Status.Detail.Split('\n'));
        var none = await Assert.ThrowsAsync<RpcException>(() => Admin.GetPolicyAsync(new AdminGetPolicyRequest()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, none.StatusCode);

        // Positive control: the same document with every defect switched off is stored.
        Assert.Equal(1, (await ApplyAsync(Policy())).Policy.Version);
    }

    [Fact]
    public async Task ApplyPolicy_InvalidAfterValid_StoredPolicyAndVersionKept()
    {
        await ApplyAsync(Policy());

        var e = await Assert.ThrowsAsync<RpcException>(() => ApplyAsync(Policy(port: "0"), string.Empty));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("policy.yaml:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)", e.Status.Detail);
        var got = await Admin.GetPolicyAsync(new AdminGetPolicyRequest());
        Assert.Equal(1, got.Version);
        Assert.Equal(Policy(), got.Yaml);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \n")]
    public async Task ApplyPolicy_NoYaml_InvalidArgument(string yaml)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => ApplyAsync(yaml));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Equal("yaml is required", e.Status.Detail);
    }

    [Fact]
    public async Task GetPolicy_NoneApplied_NotFound()
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => Admin.GetPolicyAsync(new AdminGetPolicyRequest()).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Equal(AdminApiService.NoPolicyMessage, e.Status.Detail);
        Assert.Equal("no policy has been applied", e.Status.Detail);
    }

    [Fact]
    public async Task AgentGetPolicy_ByKnownVersion_TextOnlyWhenTheAgentLacksIt()
    {
        var agent = _server.Agent(await _server.AttestAsync());

        var none = await agent.GetPolicyAsync(new AgentGetPolicyRequest());
        Assert.Equal(0, none.Version);
        Assert.Null(none.Policy);

        await ApplyAsync(Policy());
        await ApplyAsync(Policy(action: "deny"));

        var fresh = await agent.GetPolicyAsync(new AgentGetPolicyRequest { KnownVersion = 0 });
        Assert.Equal(2, fresh.Version);
        Assert.Equal(Policy(action: "deny"), fresh.Policy.Yaml);
        Assert.Equal(2, fresh.Policy.Version);

        var stale = await agent.GetPolicyAsync(new AgentGetPolicyRequest { KnownVersion = 1 });
        Assert.Equal(fresh.Policy, stale.Policy);

        var current = await agent.GetPolicyAsync(new AgentGetPolicyRequest { KnownVersion = 2 });
        Assert.Equal(2, current.Version);
        Assert.Null(current.Policy);
    }

    [Fact]
    public async Task AgentGetPolicy_NoClientCertificateOrNegativeVersion_Refused()
    {
        await ApplyAsync(Policy());

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => _server.Agent().GetPolicyAsync(new AgentGetPolicyRequest()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, anonymous.StatusCode);
        Assert.Equal("agent svid is required", anonymous.Status.Detail);

        var agent = _server.Agent(await _server.AttestAsync());
        var negative = await Assert.ThrowsAsync<RpcException>(() => agent.GetPolicyAsync(new AgentGetPolicyRequest { KnownVersion = -1 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, negative.StatusCode);
        Assert.Equal("knownVersion must not be negative", negative.Status.Detail);

        // Positive control: the same agent with a valid request gets the policy.
        Assert.Equal(1, (await agent.GetPolicyAsync(new AgentGetPolicyRequest())).Policy.Version);
    }

    [Fact]
    public async Task WatchBundles_PolicyChanged_NewVersionPushed()
    {
        var agent = _server.Agent(await _server.AttestAsync());
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var watch = agent.WatchBundles(new WatchBundlesRequest(), cancellationToken: cts.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        var first = watch.ResponseStream.Current.Version;

        await ApplyAsync(Policy());
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        var second = watch.ResponseStream.Current.Version;
        Assert.NotEqual(first, second);

        // The same text again changes nothing; the next change is the next message.
        await ApplyAsync(Policy());
        await ApplyAsync(Policy(action: "deny"));
        Assert.True(await watch.ResponseStream.MoveNext(cts.Token));
        var third = watch.ResponseStream.Current.Version;
        Assert.NotEqual(second, third);
        Assert.Equal(2, (await agent.GetPolicyAsync(new AgentGetPolicyRequest { KnownVersion = 1 })).Version);
    }
}
