using System.Diagnostics.CodeAnalysis;

namespace Anchorage.Foundation.Selectors;

/// <summary>
/// A workload or node selector, written <c>type:value</c> (e.g. <c>unix:uid:1000</c> has type
/// <c>unix</c> and value <c>uid:1000</c>). Compared ordinally.
/// </summary>
public readonly record struct Selector(string Type, string Value)
{
    /// <summary>Parses <c>type:value</c>; both parts non-empty, no whitespace or control characters.</summary>
    /// <exception cref="FormatException">The text is not a selector; the message says why.</exception>
    public static Selector Parse(string text) =>
        TryParse(text, out var selector, out var error) ? selector : throw new FormatException($"selector \"{text}\" {error}");

    /// <summary>Parses and, on failure, reports why (without quoting the text: callers add where it came from).</summary>
    public static bool TryParse(string? text, out Selector selector, [NotNullWhen(false)] out string? error)
    {
        selector = default;
        if (string.IsNullOrEmpty(text))
        {
            error = "must not be empty";
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = "must be type:value, e.g. unix:uid:1000";
            return false;
        }

        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                error = "contains whitespace or control characters";
                return false;
            }
        }

        selector = new Selector(text[..colon], text[(colon + 1)..]);
        error = null;
        return true;
    }

    /// <summary><c>type:value</c>.</summary>
    public override string ToString() => Type + ":" + Value;
}
