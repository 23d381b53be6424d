using Anchorage.Policy.Internal;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy;

/// <summary>
/// A <see cref="CommunicationPolicy"/> ready for connect-time decisions. Immutable and safe to
/// share between threads; a new policy is a new instance.
/// </summary>
/// <remarks>
/// <para>
/// A rule matches a <see cref="PolicyRequest"/> when its <c>from</c> pattern matches
/// <see cref="PolicyRequest.From"/>, the process has every selector the rule names, its <c>to</c>
/// pattern matches <see cref="PolicyRequest.To"/> and, if it names a port, the port is
/// <see cref="PolicyRequest.Port"/>. Among the matching rules a deny wins over any allow; with no
/// matching rule the connection is denied by default. A policy in <see cref="PolicyMode.Audit"/>
/// decides the same way but returns each denial as an allowed <see cref="PolicyDecision.WouldDeny"/>. The deciding rule is the first matching deny
/// in file order, else the first matching allow in file order, so the rule named in decisions and
/// audit records does not depend on how the index is built.
/// </para>
/// <para>
/// Rules are indexed by their <c>from</c> pattern (exact ID, trust domain, or a per-trust-domain
/// trie of path prefixes walked segment by segment). The rules of one <c>from</c> pattern are, up
/// to 32 of them, an array checked rule by rule (port, then length and hash of the <c>to</c> text,
/// then the text); more are indexed again by their <c>to</c> pattern the same way, then by port.
/// A decision visits only the buckets whose patterns match the request's IDs, stopping in each at
/// the first rule that can decide. Cost grows with the depth of the IDs' paths and the number of
/// rules sharing a <c>from</c> pattern, not with the size of the policy. Decide allocates nothing.
/// </para>
/// </remarks>
public sealed class CompiledPolicy
{
    private readonly CommunicationPolicy _policy;
    private readonly PatternIndex<FromBucket> _index;

    // Decisions are immutable: one per rule (it can only decide with its own action) and the default.
    private readonly PolicyDecision[] _decisions;
    private readonly PolicyDecision _default;

    private CompiledPolicy(CommunicationPolicy policy, string version, int flatLimit = FromBucket.FlatLimit)
    {
        // A private copy of the rule list: the caller's list may change, the index must not drift from it.
        _policy = policy with { Rules = [.. policy.Rules] };
        Version = version;
        _index = BuildIndex(_policy, flatLimit);
        // In audit mode a denial lets the connection through and says so (would-deny).
        var shadow = _policy.Mode == PolicyMode.Audit;
        _decisions = [.. _policy.Rules.Select(r => Decision(r.Action == PolicyAction.Allow, r.Name, version, shadow))];
        _default = Decision(false, PolicyDecision.DefaultRule, version, shadow);
    }

    /// <summary>A policy with no rules: everything is denied by default.</summary>
    public static CompiledPolicy DenyAll { get; } = new(new CommunicationPolicy("deny-all", []), "none");

    /// <summary>The policy's version (server-assigned, or derived from a local file's content).</summary>
    public string Version { get; }

    /// <summary>The policy's name.</summary>
    public string Name => _policy.Name;

    /// <summary>The rules compiled.</summary>
    public IReadOnlyList<PolicyRule> Rules => _policy.Rules;

    /// <summary>spec.mode: <see cref="PolicyMode.Audit"/> turns every denial into an allowed <c>would-deny</c>.</summary>
    public PolicyMode Mode => _policy.Mode;

    /// <summary>Compiles <paramref name="policy"/> under <paramref name="version"/>.</summary>
    /// <exception cref="ArgumentException">
    /// A rule has an empty identity, a prefix that is not a SPIFFE ID path, a port outside 1..65535
    /// or a malformed selector (<see cref="PolicyDocument"/> never produces such rules).
    /// </exception>
    public static CompiledPolicy Compile(CommunicationPolicy policy, string version)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(policy.Rules);
        ArgumentException.ThrowIfNullOrEmpty(version);
        return new CompiledPolicy(policy, version);
    }

    /// <summary>As <see cref="Compile(CommunicationPolicy, string)"/>, choosing when a <c>from</c> bucket gets a <c>to</c> index (tests cover both layouts).</summary>
    internal static CompiledPolicy Compile(CommunicationPolicy policy, string version, int flatLimit)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(policy.Rules);
        ArgumentException.ThrowIfNullOrEmpty(version);
        return new CompiledPolicy(policy, version, flatLimit);
    }

    /// <summary>Decides <paramref name="request"/>: a matching deny wins, else a matching allow, else deny by default.</summary>
    public PolicyDecision Decide(in PolicyRequest request)
    {
        var evaluation = new Evaluation(request.To, request.Port, request.FromSelectors);
        _index.Visit(request.From, ref evaluation);
        return evaluation.Deny != Evaluation.None ? _decisions[evaluation.Deny]
            : evaluation.Allow != Evaluation.None ? _decisions[evaluation.Allow]
            : _default;
    }

    /// <summary>
    /// Decides <paramref name="request"/> like <see cref="Decide"/> and says why: every rule whose
    /// <c>from</c> or <c>to</c> pattern names one of the request's IDs, in file order, with whether it
    /// matched and, if not, each check it failed. Slower than <see cref="Decide"/>; for
    /// <c>anchorage policy check --explain</c> and diagnostics, not for the connection path.
    /// </summary>
    public PolicyExplanation Explain(in PolicyRequest request)
    {
        var considered = new List<RuleEvaluation>();
        var selectors = request.FromSelectors ?? EmptySet;
        for (var i = 0; i < _policy.Rules.Count; i++)
        {
            var rule = _policy.Rules[i];
            var fromMatches = rule.From.Identity.Matches(request.From);
            var toMatches = rule.To.Identity.Matches(request.To);
            if (!fromMatches && !toMatches)
            {
                continue;
            }

            var failures = new List<string>();
            if (!fromMatches)
            {
                failures.Add($"from: {request.From} {Mismatch(rule.From.Identity)}");
            }

            var missing = rule.From.Selectors.Where(s => !selectors.Contains(s)).ToList();
            if (missing.Count > 0)
            {
                failures.Add("from.selectors: the process lacks " + string.Join(", ", missing));
            }

            if (rule.From.Origin is { } origin)
            {
                var lacking = origin.Selectors.Where(s => !selectors.Contains(s)).Select(s => s[(OriginMatch.SelectorType.Length + 1)..]).ToList();
                if (!selectors.Any(OriginMatch.IsOriginSelector))
                {
                    failures.Add("from.origin: the connection has no verified origin");
                }
                else if (lacking.Count > 0)
                {
                    failures.Add("from.origin: the origin is not " + string.Join(", ", lacking));
                }
            }

            if (!toMatches)
            {
                failures.Add($"to: {request.To} {Mismatch(rule.To.Identity)}");
            }

            if (rule.To.Port is { } port && port != request.Port)
            {
                failures.Add(FormattableString.Invariant($"to.port: {request.Port} is not {port}"));
            }

            considered.Add(new RuleEvaluation(rule, i, failures.Count == 0, failures));
        }

        return new PolicyExplanation(Decide(request), considered, _policy.Rules.Count);
    }

    private static readonly IReadOnlySet<string> EmptySet = new HashSet<string>();

    private static PolicyDecision Decision(bool allowed, string rule, string version, bool shadow) =>
        allowed || !shadow ? new PolicyDecision(allowed, rule, version) : new PolicyDecision(true, rule, version) { WouldDeny = true };

    private static string Mismatch(IdentityPattern pattern) => pattern switch
    {
        IdentityPattern.Exact exact => "is not " + exact.Id,
        IdentityPattern.Prefix prefix => "is not under " + prefix,
        IdentityPattern.InTrustDomain domain => "is not in trust domain " + domain.TrustDomain.Name,
        _ => "does not match " + pattern,
    };

    private static PatternIndex<FromBucket> BuildIndex(CommunicationPolicy policy, int flatLimit)
    {
        var rules = policy.Rules;
        var from = new PatternIndex<FromBucket>.Builder();
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i] ?? throw new ArgumentException($"rule {i} is null", nameof(policy));
            foreach (var (side, pattern) in new[] { ("from", rule.From.Identity), ("to", rule.To.Identity) })
            {
                if (!IsIndexable(pattern))
                {
                    throw new ArgumentException($"rule {rule.Name}: {side} must be an exact ID, a path prefix of a SPIFFE ID or a trust domain", nameof(policy));
                }
            }

            if (rule.To.Port is < 1 or > 65535)
            {
                throw new ArgumentException($"rule {rule.Name}: to.port must be from 1 to 65535", nameof(policy));
            }

            var selectors = rule.From.Selectors?.ToArray() ?? throw new ArgumentException($"rule {rule.Name}: from.selectors is null", nameof(policy));
            if (!selectors.All(FromMatch.IsSelector))
            {
                throw new ArgumentException($"rule {rule.Name}: from.selectors must be type:value", nameof(policy));
            }

            // The origin matches as selectors of its own type, which only a verified origin carries.
            if (rule.From.Origin is { } origin)
            {
                if (origin.Selectors.Count == 0)
                {
                    throw new ArgumentException($"rule {rule.Name}: from.origin names nothing", nameof(policy));
                }

                selectors = [.. selectors, .. origin.Selectors];
            }

            from.GetOrAdd(rule.From.Identity, static () => new FromBucket())
                .Add(new RuleRef(i, rule.Action == PolicyAction.Deny, selectors), rule.To);
        }

        return from.Build(bucket => bucket.Freeze(flatLimit));
    }

    // The index splits prefixes into segments; only a canonical SPIFFE ID path splits back to what Matches compares.
    private static bool IsIndexable(IdentityPattern? pattern) =>
        pattern switch
        {
            IdentityPattern.Exact exact => !exact.Id.IsEmpty,
            IdentityPattern.InTrustDomain domain => !domain.TrustDomain.IsEmpty,
            IdentityPattern.Prefix prefix => !prefix.TrustDomain.IsEmpty
                && prefix.PathPrefix is not null
                && (prefix.PathPrefix.Length == 0 || (prefix.PathPrefix[0] == '/' && SpiffeId.TryParse(prefix.TrustDomain.IdString + prefix.PathPrefix, out _))),
            _ => false,
        };

    /// <summary>
    /// The rules sharing one <c>from</c> pattern. Up to <see cref="FlatLimit"/> of them are checked
    /// one by one against the request's <c>to</c> (a string comparison each, in memory next to each
    /// other); more are indexed by their <c>to</c> pattern and port.
    /// </summary>
    private sealed class FromBucket
    {
        public const int FlatLimit = 32;

        private List<(RuleRef Rule, ToMatch To)>? _pending = [];

        public FlatRule[]? Flat { get; private set; }

        public PatternIndex<RuleBucket>? Index { get; private set; }

        public void Add(RuleRef rule, ToMatch to) => _pending!.Add((rule, to));

        public void Freeze(int flatLimit)
        {
            var pending = _pending!;
            _pending = null;
            if (pending.Count <= flatLimit)
            {
                Flat = [.. pending.Select(p => FlatRule.Of(p.Rule, p.To))];
                return;
            }

            var builder = new PatternIndex<RuleBucket>.Builder();
            foreach (var (rule, to) in pending)
            {
                builder.GetOrAdd(to.Identity, static () => new RuleBucket()).Add(to.Port, rule);
            }

            Index = builder.Build(static bucket => bucket.Freeze());
        }
    }

    /// <summary>
    /// A rule of a small <see cref="FromBucket"/>, with its <c>to</c> side as the text an ID must
    /// equal (<see cref="Exact"/>) or start with up to a '/' or its end: the ID of an exact
    /// pattern, <c>spiffe://td/web</c> for the prefix <c>spiffe://td/web/*</c>, <c>spiffe://td</c>
    /// for a trust domain (the same IDs as <c>spiffe://td/*</c>). Port 0 stands for any port.
    /// </summary>
    private readonly record struct FlatRule(int Index, bool Deny, int Port, string[] Selectors, bool Exact, string ToText, ulong ToHash)
    {
        public static FlatRule Of(RuleRef rule, ToMatch to)
        {
            var (exact, text) = to.Identity switch
            {
                IdentityPattern.Exact id => (true, id.Id.ToString()),
                IdentityPattern.Prefix prefix => (false, prefix.TrustDomain.IdString + prefix.PathPrefix),
                IdentityPattern.InTrustDomain domain => (false, domain.TrustDomain.IdString),
                _ => throw new ArgumentException("unknown identity pattern", nameof(to)),
            };
            return new(rule.Index, rule.Deny, to.Port ?? 0, rule.Selectors, exact, text, PrefixHashes.Hash(text));
        }
    }

    /// <summary>One decision in progress: the lowest matching deny and allow positions found so far.</summary>
    private struct Evaluation(SpiffeId to, int port, IReadOnlySet<string>? selectors)
        : IPatternVisitor<FromBucket>, IPatternVisitor<RuleBucket>
    {
        public const int None = int.MaxValue;
        private const int SchemeLength = 9; // "spiffe://"

        private readonly SpiffeId _to = to;
        private readonly string _toText = to.ToString();
        private PrefixHashes _toHashes;
        private bool _toHashed;
        private readonly int _port = port;
        private readonly IReadOnlySet<string>? _selectors = selectors;

        public int Deny { get; private set; } = None;

        public int Allow { get; private set; } = None;

        public void Visit(FromBucket value)
        {
            if (value.Flat is { } flat)
            {
                Scan(flat);
            }
            else
            {
                value.Index!.Visit(_to, ref this);
            }
        }

        public void Visit(RuleBucket value)
        {
            Scan(value.AnyPort);
            if (value.ByPort is { } byPort && byPort.TryGetValue(_port, out var list))
            {
                Scan(list);
            }
        }

        private void Scan(RuleList list)
        {
            foreach (ref readonly var rule in list.Denies.AsSpan())
            {
                if (rule.Index >= Deny)
                {
                    break;
                }

                if (HasAll(rule.Selectors))
                {
                    Deny = rule.Index;
                    break;
                }
            }

            // Once any deny matched, no allow can decide.
            if (Deny != None)
            {
                return;
            }

            foreach (ref readonly var rule in list.Allows.AsSpan())
            {
                if (rule.Index >= Allow)
                {
                    break;
                }

                if (HasAll(rule.Selectors))
                {
                    Allow = rule.Index;
                    break;
                }
            }
        }

        private void Scan(FlatRule[] rules)
        {
            foreach (ref readonly var rule in rules.AsSpan())
            {
                // Only a rule before the best of its kind so far can change the outcome; once a deny matched, no allow can.
                if (rule.Deny ? rule.Index >= Deny : Deny != None || rule.Index >= Allow)
                {
                    continue;
                }

                if ((rule.Port != 0 && rule.Port != _port) || !ToMatches(rule) || !HasAll(rule.Selectors))
                {
                    continue;
                }

                if (rule.Deny)
                {
                    Deny = rule.Index;
                }
                else
                {
                    Allow = rule.Index;
                }
            }
        }

        private bool ToMatches(in FlatRule rule)
        {
            var text = _toText;
            var length = rule.ToText.Length;

            // Length and boundary first, then the hash: most rules are rejected without reading their text.
            if (rule.Exact ? text.Length != length : text.Length < length || (text.Length > length && text[length] != '/'))
            {
                return false;
            }

            if (!_toHashed)
            {
                _toHashes = PrefixHashes.Of(text);
                _toHashed = true;
            }

            if (_toHashes.TryGet(length, out var hash) && hash != rule.ToHash)
            {
                return false;
            }

            return string.CompareOrdinal(text, 0, rule.ToText, 0, length) == 0;
        }

        private readonly bool HasAll(string[] required)
        {
            if (required.Length == 0)
            {
                return true;
            }

            if (_selectors is null)
            {
                return false;
            }

            foreach (var selector in required)
            {
                if (!_selectors.Contains(selector))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
