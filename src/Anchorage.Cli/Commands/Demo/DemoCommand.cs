using System.CommandLine;
using System.Runtime.InteropServices;
using Anchorage.Cli.Commands.Demo.Internal;

namespace Anchorage.Cli.Commands.Demo;

/// <summary>
/// <c>anchorage demo [--keep]</c>: starts two federated trust domains (acme.corp and
/// payments.acme.corp) as child processes on loopback with SQLite in a temporary directory, and
/// shows, step by step with a check each, an allowed cross-domain call through the gates, a rogue
/// process denied at the same gate, a policy-denied federated call, a CA rotation without a failed
/// call, an authority revocation taking effect, the audit trail and the inventory. Exit 0 when
/// every step behaved; 1 and the failing step's name otherwise. Everything it started is stopped
/// and its directory removed at the end, on failure and on Ctrl-C.
/// </summary>
internal static class DemoCommand
{
    public static Command Create(CliContext context)
    {
        var keep = new Option<bool>("--keep") { Description = "keep the temporary directory (configs, logs, audit files)" };
        var sabotage = new Option<string?>("--sabotage") { Description = "fail the named step on purpose", Hidden = true };
        var command = new Command("demo", "two federated trust domains on this machine: gates, policy, rotation, revocation, audit (self-checking)")
        {
            keep,
            sabotage,
            ServeCommand.Create(context),
            CallCommand.Create(context),
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            var run = new DemoRun(context, new DemoOptions(parse.GetValue(keep), parse.GetValue(sabotage)));
            try
            {
                return await run.RunAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                await context.Error.WriteLineAsync("demo: interrupted; stopping everything it started").ConfigureAwait(false);
                return ExitCodes.UsageOrIo;
            }
            finally
            {
                await run.DisposeAsync().ConfigureAwait(false);
            }

            void Stop(PosixSignalContext signal)
            {
                signal.Cancel = true;
                stop.Cancel();
            }
        });
        return command;
    }
}
