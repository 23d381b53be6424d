using System.CommandLine;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Audit;

/// <summary>
/// <c>anchorage audit tail [--file F] [-n N] [--follow] [--filter key=value]... [--output text|json]</c>:
/// the last N audit records that match every filter, as one-line summaries or the JSON lines
/// themselves; with <c>--follow</c>, then every new one as it is written, across rotations, until Ctrl-C.
/// A line that is not an audit record is reported on stderr with its file and line number and skipped.
/// </summary>
internal static class TailCommand
{
    /// <summary>The agent's default audit file (agent.yaml <c>gate.audit.file</c>).</summary>
    public const string DefaultFile = "/var/log/anchorage/audit.jsonl";

    /// <summary>How often <c>--follow</c> looks for new lines.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    private enum Format
    {
        Text,
        Json,
    }

    public static Command Create(CliContext context)
    {
        var file = new Option<string>("--file")
        {
            Description = "the audit file (default " + DefaultFile + ")",
            DefaultValueFactory = _ => DefaultFile,
        };
        var lines = new Option<int>("--lines", "-n")
        {
            Description = "how many records to print first (default 10)",
            DefaultValueFactory = _ => 10,
        };
        lines.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 0)
            {
                result.AddError("-n must be 0 or more");
            }
        });
        var follow = new Option<bool>("--follow", "-f") { Description = "keep printing records as they are written, across rotations, until interrupted" };
        var filters = new Option<string[]>("--filter")
        {
            Description = "print only records whose field equals the value, e.g. decision=deny or process.pid=123 (repeat: all must match)",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = OutputOption.Of(
            "output format: text (one-line summaries, default) or json (the lines as written)", ("text", Format.Text), ("json", Format.Json));
        var command = new Command("tail", "print the last audit records, optionally filtered, and follow new ones") { file, lines, follow, filters, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(file);
            var matchers = (parse.GetValue(filters) ?? []).Select(AuditFilter.Parse).ToArray();
            var printer = new Printer(context, path, matchers, parse.GetValue(output) == Format.Json);
            var reader = Open(path);
            try
            {
                // The first screen: the last N matching records (and malformed lines) of the whole file.
                var last = new Queue<(long Number, string Text)>();
                var count = parse.GetValue(lines);
                foreach (var line in reader.ReadAvailable(atEnd: !parse.GetValue(follow)))
                {
                    if (printer.Selects(line.Text) && count > 0)
                    {
                        last.Enqueue(line);
                        if (last.Count > count)
                        {
                            last.Dequeue();
                        }
                    }
                }

                foreach (var (number, text) in last)
                {
                    await printer.PrintAsync(number, text, cancellationToken).ConfigureAwait(false);
                }

                if (!parse.GetValue(follow))
                {
                    return ExitCodes.Success;
                }

                await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                reader = await FollowAsync(reader, printer, context.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C ends --follow.
            }
            finally
            {
                reader.Dispose();
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<AuditFileReader> FollowAsync(AuditFileReader reader, Printer printer, TimeProvider time, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await printer.PrintAllAsync(reader.ReadAvailable(atEnd: false), cancellationToken).ConfigureAwait(false);
            if (reader.IsReplaced())
            {
                // Rotated: finish the old file, then read the new one from its first line once it exists.
                await printer.PrintAllAsync(reader.ReadAvailable(atEnd: true), cancellationToken).ConfigureAwait(false);
                if (File.Exists(reader.Path))
                {
                    var next = TryOpen(reader.Path);
                    if (next is not null)
                    {
                        reader.Dispose();
                        reader = next;
                        continue;
                    }
                }
            }
            else if (reader.Shrank())
            {
                reader.Rewind();
                continue;
            }

            try
            {
                await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return reader;
            }
        }
    }

    private static AuditFileReader Open(string path)
    {
        try
        {
            return AuditFileReader.Open(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw CliException.Usage($"cannot read {path}: file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"cannot read {path}: {CliApp.OneLine(e.Message)}");
        }
    }

    // Between the rename and the new file's creation, or a file not readable yet: try again at the next poll.
    private static AuditFileReader? TryOpen(string path)
    {
        try
        {
            return AuditFileReader.Open(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Decides what is printed and prints it: records that match every filter, and an error line per malformed line.</summary>
    private sealed class Printer(CliContext context, string path, AuditFilter[] filters, bool json)
    {
        /// <summary>True for a record that matches every filter, and for a malformed line (reported when printed).</summary>
        public bool Selects(string text)
        {
            if (text.Length == 0)
            {
                return false;
            }

            if (filters.Length == 0)
            {
                return true; // parsed when printed: a malformed line is reported then
            }

            using var record = AuditOutput.TryParse(text);
            return record is null || filters.All(f => f.Matches(record.RootElement));
        }

        public async Task PrintAllAsync(List<(long Number, string Text)> lines, CancellationToken cancellationToken)
        {
            var printed = false;
            foreach (var (number, text) in lines)
            {
                if (Selects(text))
                {
                    await PrintAsync(number, text, cancellationToken).ConfigureAwait(false);
                    printed = true;
                }
            }

            if (printed)
            {
                await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        public async Task PrintAsync(long number, string text, CancellationToken cancellationToken)
        {
            using var record = AuditOutput.TryParse(text);
            if (record is null)
            {
                await context.Error.WriteLineAsync(AuditOutput.Malformed(path, number)).ConfigureAwait(false);
                return;
            }

            await context.Out.WriteLineAsync(json ? text : AuditOutput.Summary(record.RootElement)).ConfigureAwait(false);
        }
    }
}
