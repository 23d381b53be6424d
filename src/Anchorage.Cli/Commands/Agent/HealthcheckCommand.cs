using System.CommandLine;
using Anchorage.Cli.Internal;
using Grpc.Core;
using Grpc.Health.V1;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent healthcheck [--socket PATH]</c>: gRPC health over the Workload API socket.
/// Serving: <c>healthy</c>, exit 0; anything else (not serving, unreachable): one line, exit 1.
/// </summary>
internal static class HealthcheckCommand
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var command = new Command("healthcheck", "check that the agent's workload api is serving") { socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = WorkloadApiConnection.Open(parse, socket, context);
            var health = new Health.HealthClient(client.Channel);
            HealthCheckResponse response;
            try
            {
                response = await health.CheckAsync(
                    new HealthCheckRequest(),
                    client.Headers,
                    deadline: TimeProvider.System.GetUtcNow().UtcDateTime + CallTimeout,
                    cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw WorkloadApiConnection.ToCliException(ex, client);
            }

            if (response.Status != HealthCheckResponse.Types.ServingStatus.Serving)
            {
                throw new CliException(ExitCodes.Rejected, "unhealthy: the agent is not serving (" + response.Status.ToString().ToLowerInvariant() + ")");
            }

            await context.Out.WriteLineAsync("healthy").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
