using System.CommandLine;
using System.Globalization;
using Anchorage.Server.Backup;
using Anchorage.Server.Config;

namespace Anchorage.Cli.Commands.Server;

/// <summary>
/// <c>anchorage server backup --config FILE --to FILE [--include-keys]</c>: an online snapshot of
/// the SQLite datastore (taken while the server serves; run it as the server's user or root), the
/// server id and, only with <c>--include-keys</c>, the authorities' private keys, into a new file
/// of mode 0600. Direct, not through the admin API: it needs only read access to the data
/// directory, works when the server is down, and moves no datastore through a socket.
/// </summary>
internal static class BackupCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string>("--config") { Description = "server.yaml of the server to back up", Required = true };
        var to = new Option<string>("--to") { Description = "the backup file to create (refused if it exists)", Required = true };
        var includeKeys = new Option<bool>("--include-keys") { Description = "also the authorities' private keys (keep the file as secret as the keys)" };
        var command = new Command("backup", "back up the server's datastore (online) and id; keys only with --include-keys") { config, to, includeKeys };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = ServerOptionsFrom(parse.GetRequiredValue(config));
            try
            {
                var result = await ServerBackup.CreateAsync(options, parse.GetRequiredValue(to), parse.GetValue(includeKeys), context.Time, cancellationToken).ConfigureAwait(false);
                await context.Out.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"backed up trust domain {result.Manifest.TrustDomain} (schema version {result.Manifest.SchemaVersion}, {result.DatastoreBytes} bytes, {result.KeyFiles} key files) to {parse.GetRequiredValue(to)}")).ConfigureAwait(false);
                if (!result.Manifest.IncludesKeys)
                {
                    await context.Out.WriteLineAsync("the backup holds no keys: keep the data directory's keys/ safe on their own, or back up with --include-keys").ConfigureAwait(false);
                }
            }
            catch (BackupException ex)
            {
                throw CliException.Usage(ex.Message);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>server.yaml, or every error of it as one usage error.</summary>
    internal static ServerOptions ServerOptionsFrom(string path)
    {
        var loaded = ServerConfigLoader.Load(path);
        return loaded.IsValid ? loaded.Value : throw CliException.Usage(string.Join("\n", loaded.ErrorLines));
    }
}
