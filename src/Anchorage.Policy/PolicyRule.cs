namespace Anchorage.Policy;

/// <summary>One rule of a <see cref="CommunicationPolicy"/>.</summary>
/// <param name="Name">Unique within the policy; audit records and decisions name it.</param>
/// <param name="Action">Allow or deny.</param>
/// <param name="From">The side that opens the connection.</param>
/// <param name="To">The side that accepts it.</param>
public sealed record PolicyRule(string Name, PolicyAction Action, FromMatch From, ToMatch To);

/// <summary>
/// The connecting side of a rule: an identity pattern and, optionally, process selectors the
/// connecting process must all have (<c>unix:path:/usr/bin/web</c>), and the verified origin of
/// a tunnel stream (<see cref="OriginMatch"/>). Selectors can only match where the process is
/// known: at the outbound gate, never for a remote peer; an origin only where a tunnel's signed
/// origin statement verified: at the inbound gate.
/// </summary>
/// <param name="Identity">The IDs matched.</param>
/// <param name="Selectors">Selectors as <c>type:value</c>; empty when the rule names none.</param>
/// <param name="Origin">What the verified origin must show; null when the rule names none.</param>
public sealed record FromMatch(IdentityPattern Identity, IReadOnlyList<string> Selectors, OriginMatch? Origin = null)
{
    /// <summary>
    /// True when <paramref name="text"/> has the <c>type:value</c> shape of a selector: a type of
    /// lowercase letters, digits, '-' or '_', a colon, and a non-empty value without control characters.
    /// </summary>
    public static bool IsSelector(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0
            && colon < text.Length - 1
            && text[..colon].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_')
            && !text.Any(char.IsControl);
    }
}

/// <summary>The accepting side of a rule: an identity pattern and, optionally, a port.</summary>
/// <param name="Identity">The IDs matched.</param>
/// <param name="Port">The port the connection goes to; null matches every port.</param>
public sealed record ToMatch(IdentityPattern Identity, int? Port);
