using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy.Tests;

/// <summary>Issue 12 item 4: <c>from.origin</c> matches only a verified origin of an inbound tunnel stream.</summary>
public sealed class OriginMatchTests
{
    private const string Sha = "0f343b0931126a20f133d67c2b018a3b1e3e9a1b5d1c2e3f405162738495a6b7";
    private const string OtherSha = "1f343b0931126a20f133d67c2b018a3b1e3e9a1b5d1c2e3f405162738495a6b7";

    private static readonly string Policy = $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: web-from-binary
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web", origin: { sha256: "{{Sha}}", uid: 1000 } }
              to:   { spiffeId: "spiffe://payments.acme.corp/api" }
        """;

    private static ConfigResult<CommunicationPolicy> Parse(string yaml) => PolicyDocument.Parse(yaml, "policy.yaml");

    private static CompiledPolicy Compiled(int flatLimit = 32) => CompiledPolicy.Compile(Parse(Policy).Value!, "v1", flatLimit);

    private static PolicyRequest Request(IReadOnlySet<string> selectors) =>
        new(SpiffeId.Parse("spiffe://acme.corp/web"), selectors, SpiffeId.Parse("spiffe://payments.acme.corp/api"), 8443);

    [Fact]
    public void Parse_Origin_ReadsShaPathUid()
    {
        var result = Parse(Policy);

        Assert.Empty(result.ErrorLines);
        Assert.Equal(new OriginMatch(Sha, null, 1000), result.Value!.Rules[0].From.Origin);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    public void Decide_VerifiedOriginMatching_Allows_OtherOrNoOrigin_Denies(int flatLimit)
    {
        var policy = Compiled(flatLimit);

        Assert.Equal("allow web-from-binary", policy.Decide(Request(OriginMatch.RequestSelectors(Sha, "/usr/bin/web", 1000))).ToString());
        Assert.Equal("deny default", policy.Decide(Request(OriginMatch.RequestSelectors(OtherSha, "/usr/bin/web", 1000))).ToString());
        Assert.Equal("deny default", policy.Decide(Request(OriginMatch.RequestSelectors(Sha, "/usr/bin/web", 0))).ToString());

        // No verified provenance (direct mTLS, or a tunnel without it): never matches.
        Assert.Equal("deny default", policy.Decide(Request(new HashSet<string>())).ToString());

        // Local selectors (the outbound gate's) are not an origin, whatever they say.
        Assert.Equal("deny default", policy.Decide(Request(new HashSet<string> { "unix:sha256:" + Sha, "unix:uid:1000" })).ToString());
    }

    [Fact]
    public void Explain_NoOrigin_And_WrongOrigin_SayWhy()
    {
        var policy = Compiled();

        Assert.Equal(["from.origin: the connection has no verified origin"], policy.Explain(Request(new HashSet<string>())).Considered[0].Failures);
        Assert.Equal(
            ["from.origin: the origin is not sha256:" + Sha],
            policy.Explain(Request(OriginMatch.RequestSelectors(OtherSha, null, 1000))).Considered[0].Failures);
    }

    [Fact]
    public void Parse_BadOrigin_ReportsEachError()
    {
        const string yaml = """
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: a
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web", origin: { sha256: ABC, path: bin/web, uid: -1, pid: 3 } }
                  to:   { spiffeId: "spiffe://payments.acme.corp/api" }
                - name: b
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web", origin: {} }
                  to:   { spiffeId: "spiffe://payments.acme.corp/api" }
                - name: c
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web", selectors: ["origin:uid:0"] }
                  to:   { spiffeId: "spiffe://payments.acme.corp/api" }
            """;

        Assert.Equal(
            [
                "policy.yaml:8: spec.rules[0].from.origin.sha256: \"ABC\" is not a SHA-256 (64 lowercase hex digits)",
                "policy.yaml:8: spec.rules[0].from.origin.path: \"bin/web\" is not an absolute executable path",
                "policy.yaml:8: spec.rules[0].from.origin.uid: \"-1\" is not a user id (a number from 0 to 4294967295)",
                "policy.yaml:8: spec.rules[0].from.origin.pid: unknown setting",
                "policy.yaml:12: spec.rules[1].from.origin: needs one or more of sha256, path, uid",
                "policy.yaml:16: spec.rules[2].from.selectors[0]: \"origin:uid:0\": the verified origin is matched with from.origin (sha256, path, uid), not a selector",
            ],
            Parse(yaml).ErrorLines);
    }
}
