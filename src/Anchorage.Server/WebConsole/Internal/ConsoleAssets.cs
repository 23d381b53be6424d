using System.Collections.Frozen;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>
/// The console's page, script and stylesheet, embedded in the server assembly (no files on disk,
/// no CDN): read once, served from memory.
/// </summary>
internal static class ConsoleAssets
{
    private static readonly FrozenDictionary<string, (byte[] Body, string ContentType)> ByPath = new Dictionary<string, (byte[], string)>
    {
        ["/"] = (Read("index.html"), "text/html; charset=utf-8"),
        ["/console.js"] = (Read("console.js"), "text/javascript; charset=utf-8"),
        ["/console.css"] = (Read("console.css"), "text/css; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The asset served at <paramref name="path"/>; false when there is none.</summary>
    public static bool TryGet(string path, out byte[] body, out string contentType)
    {
        if (ByPath.TryGetValue(path, out var asset))
        {
            (body, contentType) = asset;
            return true;
        }

        body = [];
        contentType = string.Empty;
        return false;
    }

    private static byte[] Read(string name)
    {
        using var stream = typeof(ConsoleAssets).Assembly.GetManifestResourceStream("console/" + name)
            ?? throw new InvalidOperationException($"console asset {name} is not embedded in the server assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
