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
        Add(parts, null, Text(record, "direction"));
        Add(parts, null, Text(record, "decision"));
        Add(parts, "rule", Text(record, "rule"));
        Add(parts, "policy", Text(record, "policyVersion"));
        Add(parts, "listener", Text(record, "listener"));
        if (record.TryGetProperty("process", out var process) && process.ValueKind == JsonValueKind.Object)
        {
            Add(parts, "pid", Text(process, "pid"));
            Add(parts, "exe", Text(process, "exe"));
            Add(parts, "uid", Text(process, "uid"));
        }

        Add(parts, "peerConn", Text(record, "peerConnectionId"));
        if (record.TryGetProperty("origin", out var origin) && origin.ValueKind == JsonValueKind.Object)
        {
            Add(parts, "origin.pid", Text(origin, "pid"));
            Add(parts, "origin.exe", Text(origin, "exe"));
            Add(parts, "origin.uid", Text(origin, "uid"));
        }

        Add(parts, "originAgent", Text(record, "originAgent"));
        var self = Text(record, "spiffeId");
        var peer = Text(record, "peerSpiffeId");
        if (self is not null || peer is not null)
        {
            parts.Add($"{Quote(self ?? "-")} -> {Quote(peer ?? "-")}");
        }

        Add(parts, "peerTd", peer is null ? Text(record, "peerTrustDomain") : null);
        Add(parts, "remote", Text(record, "remote"));
        Add(parts, "reason", Text(record, "reason"));
        Add(parts, "in", Text(record, "bytesIn"));
        Add(parts, "out", Text(record, "bytesOut"));
        Add(parts, "durationMs", Text(record, "durationMs"));
        Add(parts, "td", Text(record, "trustDomain"));
        var authority = Text(record, "authority");
        Add(parts, "authority", authority is null ? null : (Text(record, "authorityKind") is { } kind ? kind + ":" : string.Empty) + authority);
        Add(parts, "server", Text(record, "serverId"));
        Add(parts, "url", Text(record, "url"));
        Add(parts, "outcome", Text(record, "outcome"));
        Add(parts, "bundleSeq", Text(record, "bundleSequence"));
        Add(parts, "seq", Text(record, "sequence"));
        Add(parts, "added", Text(record, "authoritiesAdded"));
        Add(parts, "removed", Text(record, "authoritiesRemoved"));
        Add(parts, "dropped", Text(record, "dropped"));
        Add(parts, "detail", Text(record, "detail"));
        return string.Join(' ', parts);
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
