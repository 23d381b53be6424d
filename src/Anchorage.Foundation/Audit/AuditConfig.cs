using System.Globalization;
using Anchorage.Foundation.Config;

namespace Anchorage.Foundation.Audit;

/// <summary>
/// Reads the audit mapping shared by <c>server.yaml</c> (<c>audit:</c>) and <c>agent.yaml</c>
/// (<c>gate.audit:</c>): <c>{ file: ..., maxSizeMB: 100, keep: 5 }</c>. Errors go to the node's
/// error list with their key path and line, e.g. <c>server.yaml:7: audit.keep: "x" is not a whole number from 0 to 1000</c>.
/// </summary>
public static class AuditConfig
{
    /// <summary>
    /// The options in <paramref name="node"/>; null when the node is absent (no audit) or has an error.
    /// <c>file</c> is required and absolute; <c>maxSizeMB</c> is 1 to 1048576 (default 100);
    /// <c>keep</c> is 0 to 1000 (default 5).
    /// </summary>
    public static AuditOptions? Read(ConfigNode? node)
    {
        var section = node?.Map();
        if (section is null)
        {
            return null;
        }

        var errorsBefore = section.Errors.ToImmutable().Length;
        var fileNode = section.Get("file");
        var file = fileNode?.AbsolutePath();
        if (fileNode is null)
        {
            section.Required("file");
        }
        else if (file is not null && (file.EndsWith('/') || file.EndsWith("/.", StringComparison.Ordinal) || file.EndsWith("/..", StringComparison.Ordinal)))
        {
            fileNode.Error($"{ConfigText.Quote(file)} must name a file, not a directory");
            file = null;
        }

        var maxSizeNode = section.Get("maxSizeMB");
        var maxSize = WholeNumber(maxSizeNode, 1, AuditOptions.MaxMaxSizeMB);
        var keepNode = section.Get("keep");
        var keep = WholeNumber(keepNode, 0, AuditOptions.MaxKeep);
        section.RejectUnknownKeys();

        return file is null || section.Errors.ToImmutable().Length != errorsBefore
            ? null
            : new AuditOptions
            {
                File = file!,
                MaxSizeMB = maxSize ?? AuditOptions.DefaultMaxSizeMB,
                Keep = keep ?? AuditOptions.DefaultKeep,
            };
    }

    private static int? WholeNumber(ConfigNode? node, int min, int max)
    {
        var text = node?.Scalar();
        if (node is null || text is null)
        {
            return null;
        }

        if (text.Length is >= 1 and <= 10 && text.All(char.IsAsciiDigit)
            && long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) is var value && value >= min && value <= max)
        {
            return (int)value;
        }

        node.Error(string.Create(CultureInfo.InvariantCulture, $"{ConfigText.Quote(text)} is not a whole number from {min} to {max}"));
        return null;
    }
}
