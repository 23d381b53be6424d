using System.CommandLine;
using System.Globalization;
using Anchorage.Server.Backup;

namespace Anchorage.Cli.Commands.Server;

/// <summary>
/// <c>anchorage server restore --config FILE --from FILE</c>: writes a backup into the empty (or
/// absent) data directory of server.yaml, for the same trust domain; then <c>server run</c> serves
/// the same bundle and entries and signs with the same authorities (when the keys were backed up,
/// or copied back into <c>keys/</c> before it starts).
/// </summary>
internal static class RestoreCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string>("--config") { Description = "server.yaml of the server to restore", Required = true };
        var from = new Option<string>("--from") { Description = "the backup file", Required = true };
        var command = new Command("restore", "restore a backup into an empty data directory") { config, from };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = BackupCommand.ServerOptionsFrom(parse.GetRequiredValue(config));
            try
            {
                var result = await ServerBackup.RestoreAsync(options, parse.GetRequiredValue(from), cancellationToken).ConfigureAwait(false);
                await context.Out.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"restored trust domain {result.Manifest.TrustDomain} (schema version {result.Manifest.SchemaVersion}, taken {result.Manifest.CreatedAt}, {result.KeyFiles} key files) into {options.DataDir}")).ConfigureAwait(false);
                if (!result.Manifest.IncludesKeys)
                {
                    await context.Out.WriteLineAsync($"the backup holds no keys: copy them into {Path.Join(options.DataDir, "keys")} (mode 0600) before starting the server").ConfigureAwait(false);
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
}
