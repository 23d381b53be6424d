using System.Diagnostics.CodeAnalysis;
using Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Client-side reading of <c>type:value</c> selectors (e.g. <c>unix:uid:1000</c>), with the
/// server's syntax rules so that a typo fails fast; the server stays the authority.
/// </summary>
internal static class Selectors
{
    /// <summary>Parses a selector and, on failure, says why.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Selector? selector, [NotNullWhen(false)] out string? error)
    {
        selector = null;
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (string.IsNullOrEmpty(text) || colon <= 0 || colon == text.Length - 1)
        {
            error = "must be type:value, e.g. unix:uid:1000";
            return false;
        }

        if (text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            error = "contains whitespace or control characters";
            return false;
        }

        selector = new Selector { Type = text[..colon], Value = text[(colon + 1)..] };
        error = null;
        return true;
    }

    /// <summary><c>type:value</c>.</summary>
    public static string Format(Selector selector) => selector.Type + ":" + selector.Value;
}
