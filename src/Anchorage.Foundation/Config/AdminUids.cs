using System.Collections.Immutable;
using System.Globalization;

namespace Anchorage.Foundation.Config;

/// <summary>The <c>adminUids</c> setting shared by <c>server.yaml</c> and <c>agent.yaml</c>: who may use the admin socket.</summary>
public static class AdminUids
{
    /// <summary>The highest uid accepted ((uid_t)-1 means "no uid").</summary>
    public const uint MaxUid = uint.MaxValue - 1;

    /// <summary>Reads <c>adminUids</c> from <paramref name="root"/>: a non-empty list of uids; default <c>[0]</c>. Errors go to the map's error list.</summary>
    public static ImmutableArray<uint> Read(ConfigMap root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var node = root.Get("adminUids");
        if (node is null)
        {
            return [0];
        }

        var items = node.List();
        if (items is null)
        {
            return [0];
        }

        if (items.Count == 0)
        {
            node.Error("must list at least one uid");
            return [0];
        }

        var uids = ImmutableArray.CreateBuilder<uint>(items.Count);
        foreach (var item in items)
        {
            var text = item.Scalar();
            if (text is null)
            {
                continue;
            }

            if (text.Length is >= 1 and <= 10 && text.All(char.IsAsciiDigit)
                && ulong.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) is var uid && uid <= MaxUid)
            {
                uids.Add((uint)uid);
            }
            else
            {
                item.Error(string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(text)} is not a uid (a number from 0 to {MaxUid})"));
            }
        }

        return uids.ToImmutable();
    }
}
