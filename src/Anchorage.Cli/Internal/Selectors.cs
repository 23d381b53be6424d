using System.Diagnostics.CodeAnalysis;
using Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Client-side reading of <c>type:value</c> selectors (e.g. <c>unix:uid:1000</c>) into the admin
/// API's message, using the server's own syntax rules so that a typo fails fast; the server
/// stays the authority.
/// </summary>
internal static class Selectors
{
    /// <summary>Parses a selector with the server's syntax rules and, on failure, says why.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Selector? selector, [NotNullWhen(false)] out string? error)
    {
        selector = null;
        if (!Foundation.Selectors.Selector.TryParse(text, out var parsed, out error))
        {
            return false;
        }

        selector = new Selector { Type = parsed.Type, Value = parsed.Value };
        return true;
    }

    /// <summary><c>type:value</c>.</summary>
    public static string Format(Selector selector) => selector.Type + ":" + selector.Value;
}
