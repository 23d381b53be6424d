using Anchorage.Foundation.Config;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.Policy.Tests;

public class PolicyDocumentTests
{
    private const string Header = """
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: acme }
        spec:
          rules:
            - name: r0
              action: allow
              from: { spiffeId: "spiffe://acme.corp/web/*" }
              to: { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }

        """;

    // Rule 1 always takes lines 10 to 13 (a left-out key leaves a comment line), so the expected
    // line numbers below do not depend on which key a case changes.
    private static string Doc(
        string? name = "r1",
        string? action = "deny",
        string? from = "{ trustDomain: legacy.acme.corp }",
        string? to = "{ trustDomain: acme.corp }") =>
        Header
        + (name is null ? "    - # name left out\n" : $"    - name: {name}\n")
        + (action is null ? "      # action left out\n" : $"      action: {action}\n")
        + (from is null ? "      # from left out\n" : $"      from: {from}\n")
        + (to is null ? "      # to left out\n" : $"      to: {to}\n");

    private static ConfigResult<CommunicationPolicy> Parse(string yaml) => PolicyDocument.Parse(yaml, "policy.yaml");

    [Fact]
    public void Parse_IssueExample_ReadsEveryField()
    {
        const string yaml = """
            apiVersion: anchorage.dev/v1alpha1
            kind: CommunicationPolicy
            metadata: { name: acme }
            spec:
              rules:
                - name: web-to-payments
                  action: allow
                  from: { spiffeId: "spiffe://acme.corp/web/*", selectors: ["unix:path:/usr/bin/web"] }
                  to:   { spiffeId: "spiffe://payments.acme.corp/api", port: 8443 }
                - name: no-legacy
                  action: deny
                  from: { trustDomain: legacy.acme.corp }
                  to:   { trustDomain: acme.corp }
            """;

        var result = Parse(yaml);

        Assert.Empty(result.ErrorLines);
        var policy = result.Value!;
        Assert.Equal("acme", policy.Name);
        Assert.Equal(2, policy.Rules.Count);
        var allow = policy.Rules[0];
        Assert.Equal("web-to-payments", allow.Name);
        Assert.Equal(PolicyAction.Allow, allow.Action);
        Assert.Equal(new IdentityPattern.Prefix(TrustDomain.Parse("acme.corp"), "/web"), allow.From.Identity);
        Assert.Equal(["unix:path:/usr/bin/web"], allow.From.Selectors);
        Assert.Equal(new IdentityPattern.Exact(SpiffeId.Parse("spiffe://payments.acme.corp/api")), allow.To.Identity);
        Assert.Equal(8443, allow.To.Port);
        var deny = policy.Rules[1];
        Assert.Equal("no-legacy", deny.Name);
        Assert.Equal(PolicyAction.Deny, deny.Action);
        Assert.Equal(new IdentityPattern.InTrustDomain(TrustDomain.Parse("legacy.acme.corp")), deny.From.Identity);
        Assert.Empty(deny.From.Selectors);
        Assert.Equal(new IdentityPattern.InTrustDomain(TrustDomain.Parse("acme.corp")), deny.To.Identity);
        Assert.Null(deny.To.Port);
    }

    [Fact]
    public void Parse_EmptyRuleList_IsValidAndDeniesEverything()
    {
        var result = Parse("apiVersion: anchorage.dev/v1alpha1\nkind: CommunicationPolicy\nmetadata: { name: none }\nspec: { rules: [] }\n");

        Assert.Empty(result.ErrorLines);
        Assert.Empty(result.Value!.Rules);
        var decision = CompiledPolicy.Compile(result.Value, "v1").Decide(
            new PolicyRequest(SpiffeId.Parse("spiffe://a/x"), new HashSet<string>(), SpiffeId.Parse("spiffe://a/y"), 1));
        Assert.Equal("deny default", decision.ToString());
    }

    [Fact]
    public void Parse_RulesLeftOut_IsAnErrorNotAnEmptyPolicy()
    {
        var result = Parse("apiVersion: anchorage.dev/v1alpha1\nkind: CommunicationPolicy\nmetadata: { name: none }\nspec: {}\n");

        Assert.Equal(["policy.yaml:4: spec.rules: required (an empty list, rules: [], denies everything)"], result.ErrorLines);
    }

    [Fact]
    public void Parse_EmptyFile_ReportsEveryRequiredKey()
    {
        var result = Parse(string.Empty);

        Assert.Equal(
            [
                "policy.yaml: apiVersion: required (anchorage.dev/v1alpha1)",
                "policy.yaml: kind: required (CommunicationPolicy)",
                "policy.yaml: metadata.name: required",
                "policy.yaml: spec.rules: required (an empty list, rules: [], denies everything)",
            ],
            result.ErrorLines);
    }

    [Fact]
    public void Parse_WrongApiVersionKindAndUnknownKeys_ReportsEach()
    {
        const string yaml = """
            apiVersion: anchorage.dev/v1
            kind: NetworkPolicy
            metadata: { name: acme, labels: {} }
            spec: { rules: [], default: allow }
            status: {}
            """;

        Assert.Equal(
            [
                "policy.yaml:1: apiVersion: \"anchorage.dev/v1\" is not a supported apiVersion (expected anchorage.dev/v1alpha1)",
                "policy.yaml:2: kind: \"NetworkPolicy\" is not a supported kind (expected CommunicationPolicy)",
                "policy.yaml:3: metadata.labels: unknown setting",
                "policy.yaml:4: spec.default: unknown setting",
                "policy.yaml:5: status: unknown setting",
            ],
            Parse(yaml).ErrorLines);
    }

    [Fact]
    public void Parse_YamlSyntaxError_ReportsLineAndColumn()
    {
        var result = Parse("apiVersion: anchorage.dev/v1alpha1\nspec: { rules: [\n");

        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("policy.yaml:3:1: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ManyErrors_ReportsEveryOneInFileOrder()
    {
        var yaml = Doc(name: "r0", action: "permit", from: "{ spiffeId: \"spiffe://Acme/x\" }", to: "{ trustDomain: acme.corp, port: 0 }");

        Assert.Equal(
            [
                "policy.yaml:10: spec.rules[1].name: \"r0\" is already the name of spec.rules[0]",
                "policy.yaml:11: spec.rules[1].action: \"permit\" is not allow or deny",
                "policy.yaml:12: spec.rules[1].from.spiffeId: \"spiffe://Acme/x\" is not a valid SPIFFE ID: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase",
                "policy.yaml:13: spec.rules[1].to.port: \"0\" is not a port (a number from 1 to 65535)",
            ],
            Parse(yaml).ErrorLines);
    }

    [Fact]
    public void Parse_ControlDocument_IsValid()
    {
        var result = Parse(Doc());

        Assert.Empty(result.ErrorLines);
        Assert.Equal(["r0", "r1"], result.Value!.Rules.Select(r => r.Name));
    }

    public static TheoryData<string, string?, string?, string> RuleCases => new()
    {
        // key, bad value (null: left out), good value (the positive control), expected error
        { "name", null, "r1", "policy.yaml:11: spec.rules[1].name: required" },
        { "name", "\"web to db\"", "web-to-db", "policy.yaml:10: spec.rules[1].name: \"web to db\" is not a valid name (1 to 128 letters, digits, '.', '-' or '_')" },
        { "name", "default", "default-deny", "policy.yaml:10: spec.rules[1].name: \"default\" is reserved for the deny-by-default outcome" },
        { "name", "r0", "r0b", "policy.yaml:10: spec.rules[1].name: \"r0\" is already the name of spec.rules[0]" },
        { "name", "[a]", "a", "policy.yaml:10: spec.rules[1].name: must be a single value, not a list" },
        { "action", null, "deny", "policy.yaml:10: spec.rules[1].action: required (allow or deny)" },
        { "action", "Allow", "allow", "policy.yaml:11: spec.rules[1].action: \"Allow\" is not allow or deny" },
        { "from", null, "{ trustDomain: legacy.acme.corp }", "policy.yaml:10: spec.rules[1].from: required (a rule must name the connecting side: spiffeId or trustDomain)" },
        { "from", "spiffe://acme.corp/web", "{ spiffeId: spiffe://acme.corp/web }", "policy.yaml:12: spec.rules[1].from: must be a mapping of settings" },
        { "from", "{ spiffeId: \"spiffe://Acme/x\" }", "{ spiffeId: \"spiffe://acme/x\" }", "policy.yaml:12: spec.rules[1].from.spiffeId: \"spiffe://Acme/x\" is not a valid SPIFFE ID: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase" },
        { "from", "{ spiffeId: \"spiffe://acme.corp/web*\" }", "{ spiffeId: \"spiffe://acme.corp/web/*\" }", "policy.yaml:12: spec.rules[1].from.spiffeId: \"spiffe://acme.corp/web*\" is not a valid SPIFFE ID: a wildcard is only allowed as the whole last segment (spiffe://td/path/*)" },
        { "from", "{ spiffeId: \"spiffe://acme.corp/*/x\" }", "{ spiffeId: \"spiffe://acme.corp/*\" }", "policy.yaml:12: spec.rules[1].from.spiffeId: \"spiffe://acme.corp/*/x\" is not a valid SPIFFE ID: a wildcard is only allowed as the whole last segment (spiffe://td/path/*)" },
        { "from", "{ spiffeId: \"spiffe://acme.corp/web/\" }", "{ spiffeId: \"spiffe://acme.corp/web\" }", "policy.yaml:12: spec.rules[1].from.spiffeId: \"spiffe://acme.corp/web/\" is not a valid SPIFFE ID: path cannot have a trailing slash" },
        { "from", "{ spiffeId: \"acme.corp/web\" }", "{ spiffeId: \"spiffe://acme.corp/web\" }", "policy.yaml:12: spec.rules[1].from.spiffeId: \"acme.corp/web\" is not a valid SPIFFE ID: scheme must be \"spiffe\" followed by \"://\"" },
        { "from", "{ trustDomain: Acme }", "{ trustDomain: acme }", "policy.yaml:12: spec.rules[1].from.trustDomain: \"Acme\" is not a valid trust domain: trust domain contains uppercase letters; SPIFFE trust domain names must be lowercase" },
        { "from", "{ trustDomain: \"spiffe://acme.corp/x\" }", "{ trustDomain: \"spiffe://acme.corp\" }", "policy.yaml:12: spec.rules[1].from.trustDomain: \"spiffe://acme.corp/x\" is not a valid trust domain: a trust domain cannot have a path" },
        { "from", "{ spiffeId: \"spiffe://a/x\", trustDomain: a }", "{ spiffeId: \"spiffe://a/x\" }", "policy.yaml:12: spec.rules[1].from.trustDomain: set only one of spiffeId and trustDomain" },
        { "from", "{ selectors: [\"unix:uid:0\"] }", "{ trustDomain: a, selectors: [\"unix:uid:0\"] }", "policy.yaml:12: spec.rules[1].from: needs one of spiffeId or trustDomain" },
        { "from", "{ trustDomain: a, selectors: [\"unix\"] }", "{ trustDomain: a, selectors: [\"unix:uid:0\"] }", "policy.yaml:12: spec.rules[1].from.selectors[0]: \"unix\" is not a selector (type:value, e.g. unix:uid:1000)" },
        { "from", "{ trustDomain: a, selectors: [\"Unix:uid:0\"] }", "{ trustDomain: a, selectors: [\"unix:uid:0\"] }", "policy.yaml:12: spec.rules[1].from.selectors[0]: \"Unix:uid:0\" is not a selector (type:value, e.g. unix:uid:1000)" },
        { "from", "{ trustDomain: a, selectors: \"unix:uid:0\" }", "{ trustDomain: a, selectors: [\"unix:uid:0\"] }", "policy.yaml:12: spec.rules[1].from.selectors: must be a list" },
        { "from", "{ trustDomain: a, port: 80 }", "{ trustDomain: a }", "policy.yaml:12: spec.rules[1].from.port: unknown setting" },
        { "from", "{ spiffeID: \"spiffe://a/x\" }", "{ spiffeId: \"spiffe://a/x\" }", "policy.yaml:12: spec.rules[1].from: needs one of spiffeId or trustDomain\npolicy.yaml:12: spec.rules[1].from.spiffeID: unknown setting; did you mean spiffeId?" },
        { "to", null, "{ trustDomain: acme.corp }", "policy.yaml:10: spec.rules[1].to: required (a rule must name the accepting side: spiffeId or trustDomain)" },
        { "to", "{ port: 443 }", "{ trustDomain: acme.corp, port: 443 }", "policy.yaml:13: spec.rules[1].to: needs one of spiffeId or trustDomain" },
        { "to", "{ trustDomain: acme.corp, port: 0 }", "{ trustDomain: acme.corp, port: 1 }", "policy.yaml:13: spec.rules[1].to.port: \"0\" is not a port (a number from 1 to 65535)" },
        { "to", "{ trustDomain: acme.corp, port: 65536 }", "{ trustDomain: acme.corp, port: 65535 }", "policy.yaml:13: spec.rules[1].to.port: \"65536\" is not a port (a number from 1 to 65535)" },
        { "to", "{ trustDomain: acme.corp, port: https }", "{ trustDomain: acme.corp, port: 443 }", "policy.yaml:13: spec.rules[1].to.port: \"https\" is not a port (a number from 1 to 65535)" },
        { "to", "{ trustDomain: acme.corp, selectors: [\"unix:uid:0\"] }", "{ trustDomain: acme.corp }", "policy.yaml:13: spec.rules[1].to.selectors: selectors can only be set on from (the connecting process)" },
        { "to", "{ spiffeId: \"spiffe://acme.corp/api?x=1\" }", "{ spiffeId: \"spiffe://acme.corp/api\" }", "policy.yaml:13: spec.rules[1].to.spiffeId: \"spiffe://acme.corp/api?x=1\" is not a valid SPIFFE ID: spiffe id cannot contain a query" },
    };

    [Theory]
    [MemberData(nameof(RuleCases))]
    public void Parse_InvalidRule_ReportsExactErrorAndControlIsValid(string key, string? bad, string? good, string expected)
    {
        static string Build(string key, string? value) => key switch
        {
            "name" => Doc(name: value),
            "action" => Doc(action: value),
            "from" => Doc(from: value),
            _ => Doc(to: value),
        };

        var control = Parse(Build(key, good));
        var result = Parse(Build(key, bad));

        Assert.Empty(control.ErrorLines);
        Assert.False(result.IsValid);
        Assert.Equal(expected, string.Join('\n', result.ErrorLines));
    }

    [Theory]
    [InlineData("spiffe://acme.corp/web/*", "acme.corp", "/web")]
    [InlineData("spiffe://acme.corp/a/b/*", "acme.corp", "/a/b")]
    [InlineData("spiffe://acme.corp/*", "acme.corp", "")]
    public void Parse_PathPrefix_IsPrefixPattern(string text, string trustDomain, string path)
    {
        var result = Parse(Doc(from: $"{{ spiffeId: \"{text}\" }}"));

        Assert.Equal(new IdentityPattern.Prefix(TrustDomain.Parse(trustDomain), path), result.Value!.Rules[1].From.Identity);
        Assert.Equal(text, result.Value.Rules[1].From.Identity.ToString());
    }

    [Theory]
    [InlineData("spiffe://acme.corp/web")]
    [InlineData("spiffe://acme.corp")]
    public void Parse_NoWildcard_IsExactPattern(string text)
    {
        var result = Parse(Doc(from: $"{{ spiffeId: \"{text}\" }}"));

        Assert.Equal(new IdentityPattern.Exact(SpiffeId.Parse(text)), result.Value!.Rules[1].From.Identity);
    }

    [Fact]
    public void Parse_RepeatedSelector_IsKeptOnce()
    {
        var result = Parse(Doc(from: "{ trustDomain: a, selectors: [\"unix:uid:0\", \"unix:uid:0\", \"unix:gid:0\"] }"));

        Assert.Equal(["unix:uid:0", "unix:gid:0"], result.Value!.Rules[1].From.Selectors);
    }

    [Fact]
    public void Load_MissingFile_NamesTheFile()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "policy.yaml");

        var result = PolicyDocument.Load(path);

        Assert.Equal([$"{path}: file not found"], result.ErrorLines);
    }

    [Fact]
    public void Load_ExistingFile_ParsesWithThePathAsSource()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "policy.yaml");
        File.WriteAllText(path, Doc(action: "maybe"));

        Assert.Equal([$"{path}:11: spec.rules[1].action: \"maybe\" is not allow or deny"], PolicyDocument.Load(path).ErrorLines);
    }

    [Fact]
    public void ContentVersion_DependsOnTheExactText()
    {
        var a = PolicyDocument.ContentVersion(Doc());

        Assert.Matches("^file:[0-9a-f]{12}$", a);
        Assert.Equal(a, PolicyDocument.ContentVersion(Doc()));
        Assert.NotEqual(a, PolicyDocument.ContentVersion(Doc() + " "));
    }

    [Theory]
    [InlineData(null, PolicyMode.Enforce)]
    [InlineData("enforce", PolicyMode.Enforce)]
    [InlineData("audit", PolicyMode.Audit)]
    public void Parse_SpecMode_ReadsTheMode(string? mode, PolicyMode expected)
    {
        var yaml = mode is null ? Doc() : Doc().Replace("spec:\n", $"spec:\n  mode: {mode}\n", StringComparison.Ordinal);

        var result = Parse(yaml);

        Assert.Empty(result.ErrorLines);
        Assert.Equal(expected, result.Value!.Mode);
        Assert.Equal(2, result.Value.Rules.Count);
    }

    [Fact]
    public void Parse_SpecModeUnknown_NamesTheKeyPath()
    {
        var result = Parse(Doc().Replace("spec:\n", "spec:\n  mode: shadow\n", StringComparison.Ordinal));

        Assert.Equal(["policy.yaml:5: spec.mode: \"shadow\" is not enforce or audit"], result.ErrorLines);
    }

    [Fact]
    public void Parse_SpecModeList_NamesTheKeyPath()
    {
        var result = Parse(Doc().Replace("spec:\n", "spec:\n  mode: [audit]\n", StringComparison.Ordinal));

        Assert.Equal(["policy.yaml:5: spec.mode: must be a single value, not a list"], result.ErrorLines);
    }
}
