using System.Globalization;

namespace Anchorage.Policy;

/// <summary>
/// <c>from.origin</c> of a rule: what the verified origin of an inbound tunnel stream must show
/// (the process that opened the connection on the sending side, as the sending agent's signed
/// statement says). Every field set must equal the origin's. The gate hands a verified origin to
/// the policy as <see cref="SelectorType"/> selectors in <see cref="PolicyRequest.FromSelectors"/>
/// (<see cref="RequestSelectors"/>); nothing else produces that type, so a rule with
/// <c>from.origin</c> never matches a connection without verified provenance.
/// </summary>
/// <param name="Sha256">The executable's SHA-256 (64 lowercase hex digits), or null.</param>
/// <param name="Path">The executable's absolute path, or null.</param>
/// <param name="Uid">The user id, or null.</param>
public sealed record OriginMatch(string? Sha256, string? Path, uint? Uid)
{
    /// <summary>The selector type of a verified origin (<c>origin:sha256:...</c>, <c>origin:path:...</c>, <c>origin:uid:...</c>).</summary>
    public const string SelectorType = "origin";

    /// <summary>The selectors a request must all hold for this to match.</summary>
    public IReadOnlyList<string> Selectors => [.. Of(Sha256, Path, Uid)];

    /// <summary>True when <paramref name="selector"/> is of the <see cref="SelectorType"/> type (only a verified origin may carry it).</summary>
    public static bool IsOriginSelector(string selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        return selector.StartsWith(SelectorType + ":", StringComparison.Ordinal);
    }

    /// <summary>The selectors of a verified origin, for <see cref="PolicyRequest.FromSelectors"/>.</summary>
    public static IReadOnlySet<string> RequestSelectors(string? sha256, string? path, uint uid) =>
        new HashSet<string>(Of(sha256, path, uid), StringComparer.Ordinal);

    private static IEnumerable<string> Of(string? sha256, string? path, uint? uid)
    {
        if (sha256 is not null)
        {
            yield return SelectorType + ":sha256:" + sha256;
        }

        if (path is not null)
        {
            yield return SelectorType + ":path:" + path;
        }

        if (uid is { } id)
        {
            yield return SelectorType + ":uid:" + id.ToString(CultureInfo.InvariantCulture);
        }
    }
}
