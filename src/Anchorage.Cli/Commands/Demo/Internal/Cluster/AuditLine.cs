using System.Globalization;
using System.Text;
using Anchorage.Foundation.Audit;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// One record of a gate's audit file as the demo checks and shows it: the one model,
/// <see cref="AuditRecord"/> read by <see cref="AuditJson"/>, with the process fields the demo
/// matches on lifted to the top.
/// </summary>
internal sealed record AuditLine(AuditRecord Record)
{
    public string Time => Record.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public string Kind => Record.Kind;

    public string? Direction => Record.Direction;

    public string? Decision => Record.Decision;

    public string? Reason => Record.Reason;

    public string? Rule => Record.Rule;

    public int? Pid => Record.Process?.Pid;

    public string? Exe => Record.Process?.Exe;

    public string? SpiffeId => Record.SpiffeId;

    public string? PeerSpiffeId => Record.PeerSpiffeId;

    public string? Attribution => Record.Process?.Attribution;

    public string? ExeFile => Record.Process?.ExeFile;

    /// <summary>Every record in <paramref name="path"/> (none when it does not exist yet); lines that are not audit records are skipped.</summary>
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
                records.Add(new AuditLine(AuditJson.Parse(line)));
            }
            catch (FormatException)
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
}
