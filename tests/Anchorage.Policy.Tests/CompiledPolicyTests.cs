using Anchorage.Spiffe.Ids;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Anchorage.Policy.Tests;

public class CompiledPolicyTests
{
    private static readonly HashSet<string> NoSelectors = [];

    private static IdentityPattern Pattern(string text) =>
        text.StartsWith("td:", StringComparison.Ordinal)
            ? new IdentityPattern.InTrustDomain(TrustDomain.Parse(text[3..]))
            : IdentityPattern.TryParse(text, out var pattern, out var error) ? pattern : throw new FormatException(error);

    private static PolicyRule Rule(string name, PolicyAction action, string from, string to, int? port = null, params string[] selectors) =>
        new(name, action, new FromMatch(Pattern(from), selectors), new ToMatch(Pattern(to), port));

    private static PolicyRule Allow(string name, string from, string to, int? port = null, params string[] selectors) =>
        Rule(name, PolicyAction.Allow, from, to, port, selectors);

    private static PolicyRule Deny(string name, string from, string to, int? port = null, params string[] selectors) =>
        Rule(name, PolicyAction.Deny, from, to, port, selectors);

    private static BothLayouts Compile(params PolicyRule[] rules) => new(new CommunicationPolicy("test", rules));

    /// <summary>The policy compiled with every from bucket scanned rule by rule and with every one indexed by to; both must agree.</summary>
    private sealed class BothLayouts(CommunicationPolicy policy)
    {
        private readonly CompiledPolicy _flat = CompiledPolicy.Compile(policy, "v7");
        private readonly CompiledPolicy _indexed = CompiledPolicy.Compile(policy, "v7", flatLimit: 0);

        public PolicyDecision Decide(in PolicyRequest request)
        {
            var decision = _flat.Decide(request);
            Assert.Equal(decision, _indexed.Decide(request));
            return decision;
        }

        public PolicyExplanation Explain(in PolicyRequest request) => _flat.Explain(request);
    }

    private static PolicyRequest Request(string from, string to, int port = 443, params string[] selectors) =>
        new(SpiffeId.Parse(from), selectors.Length == 0 ? NoSelectors : [.. selectors], SpiffeId.Parse(to), port);

    [Fact]
    public void Decide_NoRules_DeniesByDefault()
    {
        var decision = Compile().Decide(Request("spiffe://a/x", "spiffe://b/y"));

        Assert.Equal(new PolicyDecision(false, "default", "v7"), decision);
        Assert.Equal("deny default", decision.ToString());
    }

    [Fact]
    public void DenyAll_DeniesByDefault() =>
        Assert.Equal("deny default", CompiledPolicy.DenyAll.Decide(Request("spiffe://a/x", "spiffe://b/y")).ToString());

    [Fact]
    public void Decide_DenyAfterAllow_DenyWins()
    {
        var allowOnly = Compile(Allow("web", "spiffe://a/web", "td:b"));
        var both = Compile(Allow("web", "spiffe://a/web", "td:b"), Deny("legacy", "td:a", "spiffe://b/api"));

        Assert.Equal("allow web", allowOnly.Decide(Request("spiffe://a/web", "spiffe://b/api")).ToString());
        Assert.Equal("deny legacy", both.Decide(Request("spiffe://a/web", "spiffe://b/api")).ToString());
        Assert.Equal("allow web", both.Decide(Request("spiffe://a/web", "spiffe://b/other")).ToString());
    }

    [Fact]
    public void Decide_SeveralAllowsMatch_NamesTheFirstInFileOrder()
    {
        // The broad rule comes first in the file, the exact one second: file order decides, not specificity.
        var policy = Compile(Allow("broad", "td:a", "td:b"), Allow("exact", "spiffe://a/web", "spiffe://b/api", 443));

        Assert.Equal("allow broad", policy.Decide(Request("spiffe://a/web", "spiffe://b/api")).ToString());
        Assert.Equal(
            "allow exact",
            Compile(Allow("exact", "spiffe://a/web", "spiffe://b/api", 443), Allow("broad", "td:a", "td:b")).Decide(Request("spiffe://a/web", "spiffe://b/api")).ToString());
    }

    [Fact]
    public void Decide_SeveralDeniesMatch_NamesTheFirstInFileOrder()
    {
        var policy = Compile(Allow("ok", "td:a", "td:b"), Deny("second", "spiffe://a/*", "td:b"), Deny("first-exact", "spiffe://a/web", "spiffe://b/api"));

        Assert.Equal("deny second", policy.Decide(Request("spiffe://a/web", "spiffe://b/api")).ToString());
    }

    public static TheoryData<string, string, bool> PrefixCases => new()
    {
        { "spiffe://a/web/*", "spiffe://a/web", true },
        { "spiffe://a/web/*", "spiffe://a/web/x", true },
        { "spiffe://a/web/*", "spiffe://a/web/x/y", true },
        { "spiffe://a/web/*", "spiffe://a/webx", false },
        { "spiffe://a/web/*", "spiffe://a/we", false },
        { "spiffe://a/web/*", "spiffe://a", false },
        { "spiffe://a/web/*", "spiffe://b/web", false },
        { "spiffe://a/web/*", "spiffe://a/Web", false },
        { "spiffe://a/x/web/*", "spiffe://a/web", false },
        { "spiffe://a/*", "spiffe://a", true },
        { "spiffe://a/*", "spiffe://a/anything/at/all", true },
        { "spiffe://a/*", "spiffe://ab/x", false },
        { "spiffe://a/web", "spiffe://a/web", true },
        { "spiffe://a/web", "spiffe://a/web/x", false },
        { "td:a", "spiffe://a", true },
        { "td:a", "spiffe://a/x/y", true },
        { "td:a", "spiffe://a.b/x", false },
    };

    [Theory]
    [MemberData(nameof(PrefixCases))]
    public void Decide_FromPattern_MatchesSegmentWise(string pattern, string from, bool allowed)
    {
        var policy = Compile(Allow("r", pattern, "spiffe://z/api"));

        Assert.Equal(allowed, policy.Decide(Request(from, "spiffe://z/api")).Allowed);
        Assert.Equal(allowed, Pattern(pattern).Matches(SpiffeId.Parse(from)));
    }

    [Theory]
    [MemberData(nameof(PrefixCases))]
    public void Decide_ToPattern_MatchesSegmentWise(string pattern, string to, bool allowed)
    {
        var policy = Compile(Allow("r", "spiffe://z/web", pattern));

        Assert.Equal(allowed, policy.Decide(Request("spiffe://z/web", to)).Allowed);
    }

    [Theory]
    [InlineData("spiffe://z/1/2/3/4/5/6/7/8/9/10/*", "spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", true)]
    [InlineData("spiffe://z/1/2/3/4/5/6/7/8/9/10/*", "spiffe://z/1/2/3/4/5/6/7/8/9/1x/11/12", false)]
    [InlineData("spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", "spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", true)]
    [InlineData("spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", "spiffe://z/1/2/3/4/5/6/7/8/9/10/11/13", false)]
    [InlineData("spiffe://z/1/*", "spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", true)]
    [InlineData("td:z", "spiffe://z/1/2/3/4/5/6/7/8/9/10/11/12", true)]
    public void Decide_DeepPaths_MatchBeyondTheHashedPlaces(string pattern, string to, bool allowed)
    {
        var policy = Compile(Allow("deep", "spiffe://z/web", pattern));

        Assert.Equal(allowed, policy.Decide(Request("spiffe://z/web", to)).Allowed);
    }

    [Fact]
    public void Decide_Port_OnlyTheNamedPortMatches()
    {
        var policy = Compile(Allow("tls", "td:a", "td:b", 8443), Allow("any-c", "td:a", "td:c"));

        Assert.Equal("allow tls", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 8443)).ToString());
        Assert.Equal("deny default", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 8080)).ToString());
        Assert.Equal("allow any-c", policy.Decide(Request("spiffe://a/x", "spiffe://c/y", 8080)).ToString());
    }

    [Fact]
    public void Decide_Selectors_AllMustBePresent()
    {
        var policy = Compile(Allow("web", "td:a", "td:b", null, "unix:uid:1000", "unix:path:/usr/bin/web"));

        Assert.Equal("allow web", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:1000", "unix:path:/usr/bin/web", "unix:gid:5")).ToString());
        Assert.Equal("deny default", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:1000")).ToString());
        // The inbound gate knows no selectors of a remote peer: a rule that needs some never matches there.
        Assert.Equal("deny default", policy.Decide(Request("spiffe://a/x", "spiffe://b/y")).ToString());
        Assert.Equal("deny default", policy.Decide(new PolicyRequest(SpiffeId.Parse("spiffe://a/x"), null!, SpiffeId.Parse("spiffe://b/y"), 1)).ToString());
    }

    [Fact]
    public void Decide_DenyWithSelectors_OnlyDeniesProcessesThatHaveThem()
    {
        var policy = Compile(Allow("all", "td:a", "td:b"), Deny("root", "td:a", "td:b", null, "unix:uid:0"));

        Assert.Equal("deny root", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:0")).ToString());
        Assert.Equal("allow all", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:1000")).ToString());
    }

    [Fact]
    public void Decide_EmptyIds_DeniedByDefault()
    {
        var policy = Compile(Allow("all", "spiffe://a/*", "td:b"));

        Assert.Equal("deny default", policy.Decide(new PolicyRequest(default, NoSelectors, SpiffeId.Parse("spiffe://b/y"), 1)).ToString());
        Assert.Equal("allow all", policy.Decide(Request("spiffe://a", "spiffe://b/y")).ToString());
    }

    public static TheoryData<string, PolicyRule> BadRules => new()
    {
        { "rule p: from must be an exact ID, a path prefix of a SPIFFE ID or a trust domain (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.Prefix(TrustDomain.Parse("a"), "web"), []), new ToMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), null)) },
        { "rule p: from must be an exact ID, a path prefix of a SPIFFE ID or a trust domain (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.Prefix(TrustDomain.Parse("a"), "/web/"), []), new ToMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), null)) },
        { "rule p: to must be an exact ID, a path prefix of a SPIFFE ID or a trust domain (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), []), new ToMatch(new IdentityPattern.Exact(default), null)) },
        { "rule p: to must be an exact ID, a path prefix of a SPIFFE ID or a trust domain (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), []), new ToMatch(new IdentityPattern.InTrustDomain(default), null)) },
        { "rule p: to.port must be from 1 to 65535 (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), []), new ToMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), 0)) },
        { "rule p: from.selectors must be type:value (Parameter 'policy')", new PolicyRule("p", PolicyAction.Allow, new FromMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), ["uid"]), new ToMatch(new IdentityPattern.InTrustDomain(TrustDomain.Parse("b")), null)) },
    };

    [Theory]
    [MemberData(nameof(BadRules))]
    public void Compile_RuleTheParserWouldReject_ThrowsArgumentException(string message, PolicyRule rule)
    {
        var control = CompiledPolicy.Compile(new CommunicationPolicy("ok", [Allow("p", "spiffe://a/web/*", "td:b", 1, "unix:uid:0")]), "v1");

        var ex = Assert.Throws<ArgumentException>(() => CompiledPolicy.Compile(new CommunicationPolicy("bad", [rule]), "v1"));

        Assert.Equal("allow p", control.Decide(Request("spiffe://a/web", "spiffe://b/x", 1, "unix:uid:0")).ToString());
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Explain_ListsRulesNamingEitherIdWithEachFailedCheck()
    {
        var policy = Compile(
            Allow("web-to-api", "spiffe://a/web/*", "spiffe://b/api", 8443, "unix:uid:1000"),
            Allow("other-target", "spiffe://a/web/*", "spiffe://b/db"),
            Deny("legacy", "td:legacy", "td:b"),
            Allow("unrelated", "td:x", "td:y"),
            Allow("any-a", "td:a", "td:b"));

        var explanation = policy.Explain(Request("spiffe://a/web/1", "spiffe://b/api", 443));

        Assert.Equal("allow any-a", explanation.Decision.ToString());
        Assert.Equal(5, explanation.RuleCount);
        Assert.Equal(
            [
                "web-to-api False from.selectors: the process lacks unix:uid:1000|to.port: 443 is not 8443",
                "other-target False to: spiffe://b/api is not spiffe://b/db",
                "legacy False from: spiffe://a/web/1 is not in trust domain legacy",
                "any-a True ",
            ],
            explanation.Considered.Select(e => $"{e.Rule.Name} {e.Matched} {string.Join('|', e.Failures)}"));
        Assert.Equal([0, 1, 2, 4], explanation.Considered.Select(e => e.Index));
    }

    [Fact]
    public void Explain_PrefixMismatch_SaysNotUnder()
    {
        var explanation = Compile(Allow("p", "spiffe://b/*", "spiffe://a/web/*")).Explain(Request("spiffe://b/x", "spiffe://a/webx"));

        Assert.Equal("to: spiffe://a/webx is not under spiffe://a/web/*", Assert.Single(Assert.Single(explanation.Considered).Failures));
        Assert.Equal("deny default", explanation.Decision.ToString());
    }

    // ---- The index against a straightforward reading of the semantics ----

    private static readonly string[] Domains = ["a", "b"];
    private static readonly string[] Segments = ["x", "y", "xy"];
    private static readonly string[] SelectorPool = ["unix:uid:0", "unix:uid:1", "unix:gid:0"];

    private static Gen<string> IdGen =>
        from td in Gen.Elements(Domains)
        from depth in Gen.Choose(0, 3)
        from segments in Gen.Elements(Segments).ArrayOf(depth)
        select "spiffe://" + td + string.Concat(segments.Select(s => "/" + s));

    private static Gen<string> PatternGen =>
        Gen.OneOf(
            IdGen,
            IdGen.Select(id => id + "/*"),
            Gen.Elements(Domains).Select(td => "td:" + td));

    private static Gen<PolicyRule> RuleGen(int i) =>
        from deny in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))
        from source in PatternGen
        from target in PatternGen
        from port in Gen.Elements<int?>(null, null, 1, 2)
        from n in Gen.Choose(0, 2)
        from selectors in Gen.Elements(SelectorPool).ArrayOf(n)
        select Rule("r" + i, deny ? PolicyAction.Deny : PolicyAction.Allow, source, target, port, [.. selectors.Distinct()]);

    private static Gen<(PolicyRule[] Rules, PolicyRequest[] Requests)> CaseGen =>
        from count in Gen.Choose(0, 40)
        from rules in Gen.CollectToArray(Enumerable.Range(0, count), RuleGen)
        from requests in (
            from source in IdGen
            from target in IdGen
            from port in Gen.Choose(1, 3)
            from selectors in Gen.SubListOf(SelectorPool)
            select new PolicyRequest(SpiffeId.Parse(source), selectors.ToHashSet(), SpiffeId.Parse(target), port)).ArrayOf(30)
        select (rules, requests);

    // Independent of IdentityPattern.Matches: prefix by text, trust domain by the ID's text.
    private static bool ReferenceMatches(IdentityPattern pattern, SpiffeId id)
    {
        var text = id.ToString();
        return pattern switch
        {
            IdentityPattern.Exact exact => text == exact.Id.ToString(),
            IdentityPattern.Prefix prefix => text == prefix.TrustDomain.IdString + prefix.PathPrefix
                || text.StartsWith(prefix.TrustDomain.IdString + prefix.PathPrefix + "/", StringComparison.Ordinal),
            IdentityPattern.InTrustDomain domain => text == domain.TrustDomain.IdString
                || text.StartsWith(domain.TrustDomain.IdString + "/", StringComparison.Ordinal),
            _ => throw new ArgumentException("unknown pattern"),
        };
    }

    private static string ReferenceDecide(PolicyRule[] rules, PolicyRequest request)
    {
        var matching = rules.Where(r =>
            ReferenceMatches(r.From.Identity, request.From)
            && ReferenceMatches(r.To.Identity, request.To)
            && (r.To.Port is null || r.To.Port == request.Port)
            && r.From.Selectors.All(request.FromSelectors.Contains)).ToList();
        var deny = matching.FirstOrDefault(r => r.Action == PolicyAction.Deny);
        var allow = matching.FirstOrDefault(r => r.Action == PolicyAction.Allow);
        return deny is not null ? "deny " + deny.Name : allow is not null ? "allow " + allow.Name : "deny default";
    }

    // Flat limit 0: every from bucket gets a to index; 1000: every bucket is scanned rule by rule; 3: a mix.
    [Property(MaxTest = 300)]
    public Property Decide_RandomPolicies_AgreesWithReferenceEvaluation() => Prop.ForAll(CaseGen.ToArbitrary(), Gen.Elements(0, 3, 1000).ToArbitrary(), (c, flatLimit) =>
    {
        var policy = CompiledPolicy.Compile(new CommunicationPolicy("random", c.Rules), "v1", flatLimit);
        foreach (var request in c.Requests)
        {
            var expected = ReferenceDecide(c.Rules, request);
            var decision = policy.Decide(request);
            var explained = policy.Explain(request);
            var explainedMatches = explained.Considered.Where(e => e.Matched).Select(e => e.Rule.Name);
            var referenceMatches = c.Rules.Where(r => ReferenceDecide([r], request) != "deny default").Select(r => r.Name);
            if (decision.ToString() != expected || explained.Decision != decision || !explainedMatches.SequenceEqual(referenceMatches))
            {
                return false.Label($"flat limit {flatLimit}, request {request.From} -> {request.To}:{request.Port} [{string.Join(",", request.FromSelectors)}]: index {decision}, reference {expected}");
            }
        }

        return true.ToProperty();
    });

    [Fact]
    public void Decide_ManyRulesInOneBucket_FindsTheMatchingOne()
    {
        // 2,000 rules share the from/to patterns and differ by port or selectors; only one fits.
        var rules = Enumerable.Range(0, 1000).Select(i => Allow("port" + i, "td:a", "td:b", 10000 + i))
            .Concat(Enumerable.Range(0, 1000).Select(i => Allow("sel" + i, "td:a", "td:b", null, "unix:uid:" + i)))
            .ToArray();
        var policy = CompiledPolicy.Compile(new CommunicationPolicy("big", rules), "v1");

        Assert.Equal("allow port0", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 10000)).ToString());
        Assert.Equal("allow port999", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 10999)).ToString());
        Assert.Equal("allow sel999", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:999")).ToString());
        Assert.Equal("deny default", policy.Decide(Request("spiffe://a/x", "spiffe://b/y", 1, "unix:uid:1000")).ToString());
    }

    [Fact]
    public void Decide_AuditMode_DenialsPassAsWouldDeny_AllowsUnchanged()
    {
        var rules = new[] { Allow("web-to-api", "spiffe://a/web", "spiffe://b/api"), Deny("no-legacy", "td:legacy", "td:b") };
        var enforce = new BothLayouts(new CommunicationPolicy("test", rules));
        var audit = new BothLayouts(new CommunicationPolicy("test", rules, PolicyMode.Audit));

        // Positive control: the same rules enforced refuse both denials.
        Assert.Equal("deny no-legacy", enforce.Decide(Request("spiffe://legacy/x", "spiffe://b/api")).ToString());
        Assert.False(enforce.Decide(Request("spiffe://a/other", "spiffe://b/api")).Allowed);

        var byRule = audit.Decide(Request("spiffe://legacy/x", "spiffe://b/api"));
        var byDefault = audit.Decide(Request("spiffe://a/other", "spiffe://b/api"));
        var allowed = audit.Decide(Request("spiffe://a/web", "spiffe://b/api"));

        Assert.Equal(new PolicyDecision(true, "no-legacy", "v7") { WouldDeny = true }, byRule);
        Assert.Equal("would-deny no-legacy", byRule.ToString());
        Assert.Equal("would-deny default", byDefault.ToString());
        Assert.True(byDefault.Allowed);
        Assert.Equal(new PolicyDecision(true, "web-to-api", "v7"), allowed);
        Assert.Equal("allow", allowed.Outcome);
        Assert.Equal(PolicyMode.Audit, CompiledPolicy.Compile(new CommunicationPolicy("test", rules, PolicyMode.Audit), "v1").Mode);
    }

    [Fact]
    public void Explain_AuditMode_DecisionIsWouldDeny()
    {
        var audit = new BothLayouts(new CommunicationPolicy("test", [Deny("no-legacy", "td:legacy", "td:b")], PolicyMode.Audit));

        Assert.Equal("would-deny no-legacy", audit.Explain(Request("spiffe://legacy/x", "spiffe://b/api")).Decision.ToString());
    }
}
