using System.CommandLine;
using System.Runtime.InteropServices;
using Anchorage.Server.Config;
using Anchorage.Server.DataStore;
using Anchorage.Server.Hosting;
using Microsoft.Extensions.Logging;

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
            var path = parse.GetRequiredValue(config);
            var loaded = ServerConfigLoader.Load(path);
            if (!loaded.IsValid)
            {
                foreach (var line in loaded.ErrorLines)
                {
                    await context.Error.WriteLineAsync(line).ConfigureAwait(false);
                }

                return ExitCodes.UsageOrIo;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
            {
                signal.Cancel = true;
                stop.Cancel();
            });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
            {
                signal.Cancel = true;
                stop.Cancel();
            });
            using var loggerFactory = LoggerFactory.Create(logging => logging
                .AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                    o.UseUtcTimestamp = true;
                })
                .SetMinimumLevel(LogLevel.Information)
                // Per-request framework chatter buries the server's own events.
                .AddFilter("Microsoft", LogLevel.Warning));
            try
            {
                await ServerApp.RunAsync(loaded.Value!, loggerFactory, context.Time, stop.Token).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped while the datastore was still unreachable.
                return ExitCodes.Success;
            }
            catch (Exception ex) when (ex is DataStoreUnavailableException or InvalidDataException or InvalidOperationException or IOException or FormatException or ArgumentException)
            {
                throw CliException.Usage("server failed to start: " + CliApp.OneLine(ex.Message));
            }
        });
        return command;
    }
}
