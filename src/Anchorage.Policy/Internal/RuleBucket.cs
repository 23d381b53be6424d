using System.Collections.Frozen;

namespace Anchorage.Policy.Internal;

/// <summary>
/// The rules that share one <c>from</c> pattern and one <c>to</c> pattern, split by port (a rule
/// without a port sits in <see cref="AnyPort"/>) and, within that, into denies and allows in file
/// order, so a scan can stop at the first rule whose selectors the process has.
/// </summary>
internal sealed class RuleBucket
{
    private List<(int Port, RuleRef Rule)>? _pending = [];

    public RuleList AnyPort { get; private set; } = RuleList.Empty;

    public FrozenDictionary<int, RuleList>? ByPort { get; private set; }

    public void Add(int? port, RuleRef rule) =>
        (_pending ?? throw new InvalidOperationException("the bucket is frozen")).Add((port ?? 0, rule));

    /// <summary>Turns the collected rules into their final, read-only form; rules were added in file order.</summary>
    public void Freeze()
    {
        var pending = _pending ?? throw new InvalidOperationException("the bucket is frozen");
        _pending = null;
        AnyPort = RuleList.Of(pending.Where(p => p.Port == 0).Select(p => p.Rule));
        var ported = pending.Where(p => p.Port != 0).GroupBy(p => p.Port).ToList();
        ByPort = ported.Count == 0 ? null : ported.ToFrozenDictionary(g => g.Key, g => RuleList.Of(g.Select(p => p.Rule)));
    }
}

/// <summary>A rule as the index stores it: its position in the file, its action and the selectors it needs.</summary>
internal readonly record struct RuleRef(int Index, bool Deny, string[] Selectors);

/// <summary>Denies and allows, each in file order.</summary>
internal sealed class RuleList(RuleRef[] denies, RuleRef[] allows)
{
    public static RuleList Empty { get; } = new([], []);

    public RuleRef[] Denies { get; } = denies;

    public RuleRef[] Allows { get; } = allows;

    public static RuleList Of(IEnumerable<RuleRef> rules)
    {
        var all = rules.ToList();
        return all.Count == 0 ? Empty : new RuleList([.. all.Where(r => r.Deny)], [.. all.Where(r => !r.Deny)]);
    }
}
