using System.Collections.Immutable;
using Anchorage.Server.Registration.Internal;

namespace Anchorage.Server.Registration;

/// <summary>
/// A selector type the server accepts in registration entries, with the rule its values follow.
/// The extension point for new attestors: add a <see cref="SelectorType"/> to
/// <see cref="EntryValidatorOptions.SelectorTypes"/>.
/// </summary>
/// <remarks>
/// Unlike SPIRE, which stores any type, Anchorage refuses a selector whose type no attestor produces
/// and values its attestor never emits (<c>unix:uid:abc</c>, <c>unix:uid:007</c>): such an entry
/// could never match, and the usual cause is a typo that would otherwise fail silently.
/// </remarks>
public sealed class SelectorType
{
    private readonly Func<string, string?> _validateValue;

    /// <summary>Creates a selector type.</summary>
    /// <param name="name">The type, e.g. <c>unix</c>: lowercase letters, digits and '_'.</param>
    /// <param name="kind">Whether workload or node attestation produces it.</param>
    /// <param name="validateValue">Returns null for a value the attestor can produce, otherwise why not (lowercase, no trailing period).</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or has other characters.</exception>
    public SelectorType(string name, SelectorKind kind, Func<string, string?> validateValue)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(validateValue);
        if (!name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            throw new ArgumentException("selector type name must be lowercase letters, digits and '_'", nameof(name));
        }

        Name = name;
        Kind = kind;
        _validateValue = validateValue;
    }

    /// <summary>The type, the part before the first ':'.</summary>
    public string Name { get; }

    /// <summary>Whether workload or node attestation produces it.</summary>
    public SelectorKind Kind { get; }

    /// <summary>
    /// <c>unix</c> (workload): <c>uid:N</c>, <c>gid:N</c>, <c>supplementary_gid:N</c> (N a decimal
    /// 0..4294967294 without leading zeros), <c>user:NAME</c>, <c>group:NAME</c>,
    /// <c>supplementary_group:NAME</c>, <c>path:/abs/normalized/path</c>, <c>sha256:&lt;64 lowercase hex&gt;</c>.
    /// </summary>
    public static SelectorType Unix { get; } = new("unix", SelectorKind.Workload, SelectorRules.ValidateUnix);

    /// <summary><c>join_token</c> (node): <c>&lt;id&gt;</c>, 16 lowercase hex characters.</summary>
    public static SelectorType JoinToken { get; } = new("join_token", SelectorKind.Node, SelectorRules.ValidateJoinToken);

    /// <summary>The types Anchorage's own attestors produce.</summary>
    public static ImmutableArray<SelectorType> BuiltIn { get; } = [JoinToken, Unix];

    /// <summary>Null when <paramref name="value"/> (the part after <c>type:</c>) is valid, otherwise why not.</summary>
    public string? ValidateValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return _validateValue(value);
    }

    /// <summary>The name.</summary>
    public override string ToString() => Name;
}
