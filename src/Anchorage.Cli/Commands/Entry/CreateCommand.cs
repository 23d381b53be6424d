using System.CommandLine;
using System.Globalization;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Entry;

/// <summary>
/// <c>anchorage entry create --spiffe-id ID --parent-id ID --selector S... [flags]</c> or
/// <c>anchorage entry create -f FILE.yaml</c>: registers entries; prints each new entry's id
/// on its own line. Per-entry failures go to stderr and make the exit code 1.
/// </summary>
internal static class CreateCommand
{
    public static Command Create(CliContext context)
    {
        var flags = new EntryFlags();
        var file = new Option<string?>("--file", "-f") { Description = "a YAML file with a list of entries under entries: (instead of the flags)" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("create", "register entries; prints the new ids");
        flags.AddTo(command);
        command.Add(file);
        command.Add(socket);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var entries = Read(parse, flags, file);
            using var admin = AdminConnection.Open(parse, socket);
            var request = new CreateEntriesRequest();
            request.Entries.AddRange(entries);
            var response = await admin.CallAsync((c, o) => c.CreateEntriesAsync(request, o), cancellationToken).ConfigureAwait(false);
            if (response.Results.Count != entries.Count)
            {
                throw CliException.Usage(string.Create(
                    CultureInfo.InvariantCulture,
                    $"the server answered {response.Results.Count} results for {entries.Count} entries"));
            }

            var fromFile = parse.GetValue(file) is not null;
            var failed = false;
            for (var i = 0; i < entries.Count; i++)
            {
                var result = response.Results[i];
                if (result.ErrorCode == 0)
                {
                    await context.Out.WriteLineAsync(result.Entry?.Id).ConfigureAwait(false);
                    continue;
                }

                failed = true;
                var error = CliApp.OneLine(result.Error);
                await context.Error.WriteLineAsync(fromFile
                    ? string.Create(CultureInfo.InvariantCulture, $"error: entries[{i}] ({entries[i].SpiffeId}): {error}")
                    : "error: " + error).ConfigureAwait(false);
            }

            return failed ? ExitCodes.Rejected : ExitCodes.Success;
        });
        return command;
    }

    private static List<Protos.Common.V1.Entry> Read(ParseResult parse, EntryFlags flags, Option<string?> file)
    {
        var given = flags.Given(parse).ToList();
        if (parse.GetValue(file) is { } path)
        {
            return given.Count > 0
                ? throw CliException.Usage($"-f cannot be combined with {string.Join(", ", given)}")
                : EntryFile.Read(path);
        }

        foreach (var required in (Option[])[flags.SpiffeId, flags.ParentId, flags.Selectors])
        {
            if (!given.Contains(required.Name))
            {
                throw CliException.Usage($"{required.Name} is required (or -f FILE)");
            }
        }

        var entry = new Protos.Common.V1.Entry();
        flags.Apply(parse, entry);
        return [entry];
    }
}
