using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Hosting;

namespace Anchorage.Cli.Commands.Server;

/// <summary>
/// <c>anchorage server run --config FILE</c>: runs the control plane until SIGINT or SIGTERM.
/// A config with errors prints every error (with its key path and line) and exits 2: nothing starts.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string>("--config") { Description = "server.yaml", Required = true };
        var command = new Command("run", "run the server (CA, registration, agent and admin APIs)") { config };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var loaded = ServerConfigLoader.Load(parse.GetRequiredValue(config));
            return await DaemonRunner.RunAsync(
                context,
                loaded,
                "server",
                options => options.Logging,
                (options, loggers, stop) => ServerApp.RunAsync(options, loggers, context.Time, stop),
                ex => ex is DataStoreUnavailableException or InvalidDataException or InvalidOperationException or IOException or FormatException or ArgumentException,
                cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
