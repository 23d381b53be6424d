using System.CommandLine;
using Anchorage.Cli.Internal;
using Grpc.Core;
using Grpc.Health.V1;

namespace Anchorage.Cli.Commands.Server;

/// <summary>
/// <c>anchorage server healthcheck [--socket PATH]</c>: asks the server's admin socket for gRPC
/// health. Serving: prints <c>healthy</c>, exit 0. Not serving: <c>unhealthy: ...</c>, exit 1.
/// Unreachable: exit 2.
/// </summary>
internal static class HealthcheckCommand
{
    public static Command Create(CliContext context)
    {
        var socket = AdminConnection.SocketOption();
        var command = new Command("healthcheck", "check that the server is up and ready") { socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var connection = AdminConnection.Open(parse, socket);
            var client = new Health.HealthClient(connection.Channel);
            HealthCheckResponse response;
            try
            {
                response = await client.CheckAsync(
                    new HealthCheckRequest(),
                    deadline: TimeProvider.System.GetUtcNow().UtcDateTime + AdminConnection.CallTimeout,
                    cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw AdminConnection.ToCliException(ex, connection.SocketPath);
            }

            if (response.Status != HealthCheckResponse.Types.ServingStatus.Serving)
            {
                throw new CliException(ExitCodes.Rejected, "unhealthy: the server is not ready (" + response.Status.ToString().ToLowerInvariant() + ")");
            }

            await context.Out.WriteLineAsync("healthy").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
