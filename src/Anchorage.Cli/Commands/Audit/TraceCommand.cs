using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Audit;

/// <summary>
/// <c>anchorage audit trace ID --file A --file B...</c>: one connection's path across gates. The
/// records of connection <c>ID</c> at the sending gate (its <c>connectionId</c>) and at every
/// receiving gate (their <c>peerConnectionId</c>; an inbound gate's own id works too) are printed in
/// time order, each with the file it came from, then whether the receiving gate verified the
/// origin and whether it is the process the sending gate recorded. Exit 0 when records were
/// found, 1 when none; malformed lines are reported on stderr and skipped.
/// </summary>
internal static class TraceCommand
{
    public static Command Create(CliContext context)
    {
        var id = new Argument<string>("id") { Description = "the connection id (the sending gate's connectionId, or a receiving gate's)" };
        var files = new Option<string[]>("--file")
        {
            Description = "an audit file (repeat: one per gate)",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("trace", "print one connection's records across gates (sending and receiving) and its verified origin") { id, files };
        command.SetAction(parse =>
        {
            var wanted = parse.GetRequiredValue(id);
            var paths = parse.GetRequiredValue(files);
            var records = new List<(string File, JsonDocument Record)>();
            try
            {
                foreach (var path in paths)
                {
                    Read(context, path, records);
                }

                return Print(context, wanted, paths, records);
            }
            finally
            {
                records.ForEach(r => r.Record.Dispose());
            }
        });
        return command;
    }

    private static void Read(CliContext context, string path, List<(string File, JsonDocument Record)> records)
    {
        try
        {
            var number = 0L;
            foreach (var line in File.ReadLines(path))
            {
                number++;
                if (line.Length == 0)
                {
                    continue;
                }

                if (AuditOutput.TryParse(line) is { } record)
                {
                    records.Add((path, record));
                }
                else
                {
                    context.Error.WriteLine(AuditOutput.Malformed(path, number));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"cannot read {path}: {e.Message}");
        }
    }

    private static int Print(CliContext context, string wanted, string[] paths, List<(string File, JsonDocument Record)> records)
    {
        // Ids are unique per gate only: an id a sending gate used is taken as that; otherwise as a
        // receiving gate's, whose records name the sending gate's id.
        var senders = new HashSet<string>(StringComparer.Ordinal) { wanted };
        var isSender = records.Any(r => Text(r.Record.RootElement, "direction") == "outbound" && Text(r.Record.RootElement, "connectionId") == wanted);
        foreach (var (_, record) in records)
        {
            if (!isSender && Text(record.RootElement, "direction") == "inbound" && Text(record.RootElement, "connectionId") == wanted
                && Text(record.RootElement, "peerConnectionId") is { } sender)
            {
                senders.Add(sender);
            }
        }

        var path = records
            .Where(r => IsOnPath(r.Record.RootElement, isSender ? null : wanted, senders))
            .OrderBy(r => r.Record.RootElement.GetProperty("time").GetDateTimeOffset())
            .ToList();
        if (path.Count == 0)
        {
            context.Out.WriteLine($"no record of connection {wanted} in {string.Join(", ", paths)}");
            return ExitCodes.Rejected;
        }

        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"connection {wanted}: {path.Count} records in {path.Select(p => p.File).Distinct().Count()} files"));
        foreach (var (file, record) in path)
        {
            context.Out.WriteLine($"  {file}: {AuditOutput.Summary(record.RootElement)}");
        }

        context.Out.WriteLine(OriginVerdict(path.Select(p => p.Record.RootElement).ToList()));
        return ExitCodes.Success;
    }

    // receiver: the receiving gate's id given, or null when the id given is the sending gate's.
    private static bool IsOnPath(JsonElement record, string? receiver, HashSet<string> senders)
    {
        var direction = Text(record, "direction");
        var connection = Text(record, "connectionId");
        return (direction == "outbound" && connection is not null && senders.Contains(connection))
            || (direction == "inbound" && Text(record, "peerConnectionId") is { } sender && senders.Contains(sender))
            || (direction == "inbound" && receiver is not null && connection == receiver);
    }

    // The receiving gate's verified origin against the process the sending gate recorded.
    private static string OriginVerdict(List<JsonElement> path)
    {
        var sent = path.FirstOrDefault(r => Text(r, "direction") == "outbound" && r.TryGetProperty("process", out _));
        var received = path.FirstOrDefault(r => Text(r, "direction") == "inbound" && Text(r, "kind") == "connection");
        if (received.ValueKind == JsonValueKind.Undefined)
        {
            return "origin: no receiving gate's record";
        }

        if (!received.TryGetProperty("origin", out var origin) || origin.ValueKind != JsonValueKind.Object)
        {
            return "origin: not verified (the connection carried no provenance)";
        }

        var agent = Text(received, "originAgent") ?? "-";
        if (sent.ValueKind == JsonValueKind.Undefined || !sent.TryGetProperty("process", out var process))
        {
            return $"origin: verified (signed by {agent}); no sending gate's record to compare";
        }

        string[] fields = ["pid", "exe", "sha256", "uid", "gid", "startTime"];
        var differ = fields.Where(f => Text(origin, f) != Text(process, f)).ToList();
        return differ.Count == 0
            ? $"origin: verified (signed by {agent}), the process the sending gate recorded: pid {Text(origin, "pid")} {Text(origin, "exe") ?? "-"}"
            : $"origin: verified (signed by {agent}) but differs from the sending gate's process in {string.Join(", ", differ)}";
    }

    private static string? Text(JsonElement record, string name) =>
        record.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;
}
