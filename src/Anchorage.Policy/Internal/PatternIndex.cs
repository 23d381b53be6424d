using System.Collections.Frozen;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Policy.Internal;

/// <summary>Receives each value whose pattern matches an ID (see <see cref="PatternIndex{T}.Visit"/>).</summary>
internal interface IPatternVisitor<in T>
{
    void Visit(T value);
}

/// <summary>
/// Maps identity patterns to values and finds, for one SPIFFE ID, every value whose pattern
/// matches it: one lookup for the exact ID, one for the trust domain, and a walk down the
/// trust domain's prefix trie one path segment at a time (so <c>/web/*</c> matches <c>/web</c>
/// and <c>/web/a</c>, never <c>/webx</c>). Lookups work on spans of the ID's text and allocate nothing.
/// </summary>
internal sealed class PatternIndex<T>
    where T : class
{
    private const int SchemeLength = 9; // "spiffe://"

    private readonly FrozenDictionary<string, T>.AlternateLookup<ReadOnlySpan<char>> _exact;
    private readonly FrozenDictionary<string, T>.AlternateLookup<ReadOnlySpan<char>> _domains;
    private readonly FrozenDictionary<string, PrefixNode>.AlternateLookup<ReadOnlySpan<char>> _prefixes;

    private PatternIndex(Dictionary<string, T> exact, Dictionary<string, T> domains, Dictionary<string, PrefixNode.Builder> prefixes)
    {
        _exact = exact.ToFrozenDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        _domains = domains.ToFrozenDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
        _prefixes = prefixes.ToFrozenDictionary(p => p.Key, p => p.Value.Build(), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Calls <paramref name="visitor"/> once for every value whose pattern matches <paramref name="id"/>.</summary>
    public void Visit<TVisitor>(SpiffeId id, ref TVisitor visitor)
        where TVisitor : struct, IPatternVisitor<T>
    {
        var text = id.ToString();
        if (text.Length <= SchemeLength)
        {
            return; // the empty ID names nothing
        }

        if (_exact.Dictionary.Count != 0 && _exact.TryGetValue(text, out var exact))
        {
            visitor.Visit(exact);
        }

        var rest = text.AsSpan(SchemeLength);
        var slash = rest.IndexOf('/');
        var domain = slash < 0 ? rest : rest[..slash];
        if (_domains.Dictionary.Count != 0 && _domains.TryGetValue(domain, out var inDomain))
        {
            visitor.Visit(inDomain);
        }

        if (_prefixes.Dictionary.Count == 0 || !_prefixes.TryGetValue(domain, out var node))
        {
            return;
        }

        // The path is empty or "/seg(/seg)*"; visit the root ("spiffe://td/*"), then each deeper prefix.
        var path = slash < 0 ? [] : rest[(slash + 1)..];
        while (true)
        {
            if (node.Value is { } value)
            {
                visitor.Visit(value);
            }

            if (node.Children is not { } children || path.IsEmpty)
            {
                return;
            }

            var end = path.IndexOf('/');
            var segment = end < 0 ? path : path[..end];
            if (!children.TryGetValue(segment, out var child))
            {
                return;
            }

            node = child;
            path = end < 0 ? [] : path[(end + 1)..];
        }
    }

    /// <summary>Collects pattern-value pairs, then freezes them into a <see cref="PatternIndex{T}"/>.</summary>
    internal sealed class Builder
    {
        private readonly Dictionary<string, T> _exact = new(StringComparer.Ordinal);
        private readonly Dictionary<string, T> _domains = new(StringComparer.Ordinal);
        private readonly Dictionary<string, PrefixNode.Builder> _prefixes = new(StringComparer.Ordinal);

        /// <summary>The value stored for <paramref name="pattern"/>, created on first use.</summary>
        public T GetOrAdd(IdentityPattern pattern, Func<T> create)
        {
            switch (pattern)
            {
                case IdentityPattern.Exact exact:
                    return GetOrAdd(_exact, exact.Id.ToString(), create);
                case IdentityPattern.InTrustDomain domain:
                    return GetOrAdd(_domains, domain.TrustDomain.Name, create);
                case IdentityPattern.Prefix prefix:
                    if (!_prefixes.TryGetValue(prefix.TrustDomain.Name, out var node))
                    {
                        node = new PrefixNode.Builder();
                        _prefixes.Add(prefix.TrustDomain.Name, node);
                    }

                    foreach (var segment in prefix.PathPrefix.Split('/', StringSplitOptions.RemoveEmptyEntries))
                    {
                        node = node.Child(segment);
                    }

                    return node.Value ??= create();
                default:
                    throw new ArgumentException("unknown identity pattern " + pattern.GetType().Name, nameof(pattern));
            }
        }

        /// <summary>The frozen index; <paramref name="freeze"/> turns each collected value into its final form first.</summary>
        public PatternIndex<T> Build(Action<T> freeze)
        {
            foreach (var value in _exact.Values.Concat(_domains.Values))
            {
                freeze(value);
            }

            foreach (var node in _prefixes.Values)
            {
                node.Freeze(freeze);
            }

            return new PatternIndex<T>(_exact, _domains, _prefixes);
        }

        private static T GetOrAdd(Dictionary<string, T> map, string key, Func<T> create)
        {
            if (!map.TryGetValue(key, out var value))
            {
                value = create();
                map.Add(key, value);
            }

            return value;
        }
    }

    /// <summary>One path segment of a trust domain's prefix trie.</summary>
    private sealed class PrefixNode(T? value, FrozenDictionary<string, PrefixNode>.AlternateLookup<ReadOnlySpan<char>>? children)
    {
        public T? Value { get; } = value;

        public FrozenDictionary<string, PrefixNode>.AlternateLookup<ReadOnlySpan<char>>? Children { get; } = children;

        internal sealed class Builder
        {
            private Dictionary<string, Builder>? _children;

            public T? Value { get; set; }

            public Builder Child(string segment)
            {
                _children ??= new Dictionary<string, Builder>(StringComparer.Ordinal);
                if (!_children.TryGetValue(segment, out var child))
                {
                    child = new Builder();
                    _children.Add(segment, child);
                }

                return child;
            }

            public void Freeze(Action<T> freeze)
            {
                if (Value is not null)
                {
                    freeze(Value);
                }

                foreach (var child in _children?.Values ?? Enumerable.Empty<Builder>())
                {
                    child.Freeze(freeze);
                }
            }

            public PrefixNode Build() => new(
                Value,
                _children is null
                    ? null
                    : _children.ToFrozenDictionary(c => c.Key, c => c.Value.Build(), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>());
        }
    }
}
