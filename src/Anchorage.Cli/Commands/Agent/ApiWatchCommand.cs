using System.CommandLine;
using Anchorage.Cli.Internal;
using Grpc.Core;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api watch [--socket PATH]</c>: one line per X.509 update (time, default
/// SPIFFE ID, its expiry, bundle trust domains) until Ctrl-C; reconnects as the SDK does.
/// </summary>
internal static class ApiWatchCommand
{
    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var command = new Command("watch", "print a line per X.509-SVID update until interrupted") { socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = WorkloadApiConnection.Open(parse, socket, context);
            try
            {
                await foreach (var update in client.WatchX509ContextsAsync(cancellationToken).ConfigureAwait(false))
                {
                    var svid = update.DefaultSvid;
                    var domains = string.Join(",", update.Bundles.X509Bundles.Keys.Order().Select(t => t.Name));
                    await context.Out.WriteLineAsync(
                        $"{WorkloadApiConnection.Time(context.Time.GetUtcNow())} {svid.Id} expires={WorkloadApiConnection.Time(svid.Leaf.NotAfter)} svids={update.Svids.Length} bundles={domains}").ConfigureAwait(false);
                    await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Success;
            }
            catch (RpcException ex)
            {
                throw WorkloadApiConnection.ToCliException(ex, client);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
