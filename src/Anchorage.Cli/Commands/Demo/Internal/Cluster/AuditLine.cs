using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>The fields of one audit record (a JSON line of the gate's audit file) the demo checks and shows.</summary>
internal sealed record AuditLine(
    string? Time,
    string? Kind,
    string? Direction,
    string? Decision,
    string? Reason,
    string? Rule,
    int? Pid,
    string? Exe,
    string? SpiffeId,
    string? PeerSpiffeId,
    string? Attribution = null,
    string? ExeFile = null)
{
    /// <summary>Every record in <paramref name="path"/> (none when it does not exist yet); lines that are not JSON objects are skipped.</summary>
    public static IReadOnlyList<AuditLine> ReadAll(string path)
    {
        string[] lines;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }

        var records = new List<AuditLine>();
        foreach (var line in lines)
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }

                var process = root.TryGetProperty("process", out var p) && p.ValueKind == JsonValueKind.Object ? p : (JsonElement?)null;
                records.Add(new AuditLine(
                    Text(root, "time"),
                    Text(root, "kind"),
                    Text(root, "direction"),
                    Text(root, "decision"),
                    Text(root, "reason"),
                    Text(root, "rule"),
                    process is { } proc && proc.TryGetProperty("pid", out var pid) && pid.TryGetInt32(out var value) ? value : null,
                    process is { } proc2 ? Text(proc2, "exe") : null,
                    Text(root, "spiffeId"),
                    Text(root, "peerSpiffeId"),
                    process is { } proc3 ? Text(proc3, "attribution") : null,
                    process is { } proc4 ? Text(proc4, "exeFile") : null));
            }
            catch (JsonException)
            {
                // A line being written; the next read sees it whole.
            }
        }

        return records;
    }

    /// <summary>One short line per record, for when <c>anchorage audit tail</c> is not available.</summary>
    public static string Format(IEnumerable<AuditLine> records)
    {
        var text = new StringBuilder();
        foreach (var r in records)
        {
            text.Append(CultureInfo.InvariantCulture, $"{r.Time} {r.Kind} {r.Direction} {r.Decision} {r.Rule ?? r.Reason} pid={r.Pid} exe={r.Exe} id={r.SpiffeId} peer={r.PeerSpiffeId}").Append('\n');
        }

        return text.Length == 0 ? "(no records)" : text.ToString();
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            _ => value.GetRawText(),
        } : null;
}
