using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Anchorage.Cli.Internal;

/// <summary>
/// How <c>audit tail</c> reads and prints one line of the audit file: a JSON object with a
/// <c>time</c> and a <c>kind</c>, printed as a one-line summary (time, kind, decision, rule,
/// process, identities, reason, then what the kind adds) or as the JSON line itself.
/// </summary>
internal static class AuditOutput
{
    // (label, record field) in the order they print; a null label prints the value alone.
    private static readonly (string? Label, string Field)[] Decision =
        [(null, "direction"), (null, "decision"), ("rule", "rule"), ("policy", "policyVersion"), ("listener", "listener")];

    private static readonly (string? Label, string Field)[] Connection =
        [("remote", "remote"), ("reason", "reason"), ("in", "bytesIn"), ("out", "bytesOut"), ("durationMs", "durationMs"), ("td", "trustDomain")];

    private static readonly (string? Label, string Field)[] Authority =
    [
        ("server", "serverId"), ("url", "url"), ("outcome", "outcome"), ("bundleSeq", "bundleSequence"), ("seq", "sequence"),
        ("added", "authoritiesAdded"), ("removed", "authoritiesRemoved"), ("dropped", "dropped"), ("detail", "detail"),
    ];

    private static readonly (string? Label, string Field)[] Process = [("pid", "pid"), ("exe", "exe"), ("uid", "uid")];

    /// <summary>The record in <paramref name="line"/>; null when the line is not an audit record.</summary>
    public static JsonDocument? TryParse(string line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return null;
        }

        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Object
            && root.TryGetProperty("time", out var time) && time.ValueKind == JsonValueKind.String && time.TryGetDateTimeOffset(out _)
            && root.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String)
        {
            return document;
        }

        document.Dispose();
        return null;
    }

    /// <summary>The message for a line that is not an audit record.</summary>
    public static string Malformed(string file, long line) =>
        string.Create(CultureInfo.InvariantCulture, $"error: {file}:{line}: not an audit record (a JSON object with time and kind), skipped");

    /// <summary>
    /// One line, e.g. <c>2026-11-23T01:04:05.123Z connection outbound deny rule=no-legacy pid=4242 exe=/usr/bin/web
    /// spiffe://acme.corp/web -> spiffe://payments.acme.corp/api reason=policy</c>. Control characters print as <c>?</c>.
    /// </summary>
    public static string Summary(JsonElement record)
    {
        var parts = new List<string>
        {
            record.GetProperty("time").GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            Quote(Text(record, "kind")!),
        };
        AddFields(parts, record, Decision);
        AddProcess(parts, record, "process", string.Empty);
        Add(parts, "peerConn", Text(record, "peerConnectionId"));
        AddProcess(parts, record, "origin", "origin.");
        Add(parts, "originAgent", Text(record, "originAgent"));
        var self = Text(record, "spiffeId");
        var peer = Text(record, "peerSpiffeId");
        if (self is not null || peer is not null)
        {
            parts.Add($"{Quote(self ?? "-")} -> {Quote(peer ?? "-")}");
        }

        Add(parts, "peerTd", peer is null ? Text(record, "peerTrustDomain") : null);
        AddFields(parts, record, Connection);
        var authority = Text(record, "authority");
        Add(parts, "authority", authority is null ? null : (Text(record, "authorityKind") is { } kind ? kind + ":" : string.Empty) + authority);
        AddFields(parts, record, Authority);
        return string.Join(' ', parts);
    }

    private static void AddFields(List<string> parts, JsonElement record, (string? Label, string Field)[] fields)
    {
        foreach (var (label, field) in fields)
        {
            Add(parts, label, Text(record, field));
        }
    }

    // The process that opened the connection (process) or, across a tunnel, the remote one (origin.).
    private static void AddProcess(List<string> parts, JsonElement record, string name, string prefix)
    {
        if (record.TryGetProperty(name, out var process) && process.ValueKind == JsonValueKind.Object)
        {
            foreach (var (label, field) in Process)
            {
                Add(parts, prefix + label, Text(process, field));
            }
        }
    }

    private static void Add(List<string> parts, string? name, string? value)
    {
        if (value is not null)
        {
            parts.Add(name is null ? Quote(value) : name + "=" + Quote(value));
        }
    }

    // A field as text: strings as they are, numbers as written, lists comma-joined; null when absent or an empty list.
    private static string? Text(JsonElement record, string name)
    {
        if (!record.TryGetProperty(name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            JsonValueKind.Array when value.GetArrayLength() == 0 => null,
            JsonValueKind.Array => string.Join(',', value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText())),
            _ => null,
        };
    }

    // Values come from workloads (executable paths) and peers (errors): never let one move the cursor, reorder text or
    // split the line (a line break in a value would forge a second record in the output: found by fuzz/run audit-line).
    private static string Quote(string value)
    {
        var builder = new StringBuilder(value.Length + 2);
        var needsQuotes = value.Length == 0;
        foreach (var c in value)
        {
            if (char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                builder.Append('?');
                continue;
            }

            needsQuotes |= c is ' ' or '"';
            builder.Append(c == '"' ? "\\\"" : c.ToString());
        }

        return needsQuotes ? "\"" + builder + "\"" : builder.ToString();
    }
}
