using System.CommandLine;
using System.Runtime.InteropServices;
using Anchorage.Agent;
using Anchorage.Agent.Config;
using Anchorage.Agent.Node;
using Microsoft.Extensions.Logging;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent run --config FILE</c>: runs the node agent until SIGINT or SIGTERM. A config
/// with errors prints every error (with its key path and line) and exits 2: nothing starts.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliContext context)
    {
        var config = new Option<string>("--config") { Description = "agent.yaml", Required = true };
        var command = new Command("run", "run the node agent (Workload API, attestation, SVID rotation)") { config };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(config);
            var loaded = AgentConfigLoader.Load(path);
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
                .AddFilter("Microsoft", LogLevel.Warning)
                .AddFilter("Grpc", LogLevel.Warning));
            try
            {
                await AgentApp.RunAsync(loaded.Value!, loggerFactory, context.Time, stop.Token).ConfigureAwait(false);
                return ExitCodes.Success;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped while the server was still unreachable.
                return ExitCodes.Success;
            }
            catch (AgentStartException ex)
            {
                throw CliException.Usage("agent failed to start: " + CliApp.OneLine(ex.Message));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                throw CliException.Usage("agent failed to start: " + CliApp.OneLine(ex.Message));
            }
        });
        return command;
    }
}
