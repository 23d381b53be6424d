using System.CommandLine;
using Anchorage.Agent;
using Anchorage.Agent.Config;
using Anchorage.Agent.Node;
using Anchorage.Cli.Internal;

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
            var loaded = AgentConfigLoader.Load(parse.GetRequiredValue(config));
            return await DaemonRunner.RunAsync(
                context,
                loaded,
                "agent",
                options => options.Logging,
                (options, loggers, stop) => AgentApp.RunAsync(options, loggers, context.Time, stop),
                ex => ex is AgentStartException or IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException,
                cancellationToken).ConfigureAwait(false);
        });
        return command;
    }
}
