using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Anchorage.Cli.Commands.Demo.Internal.Cluster;

namespace Anchorage.Cli.Commands.Demo;

/// <summary>
/// <c>anchorage demo call --connect ADDR [--message TEXT] [--loop]</c> (hidden): the demo's client
/// workload. Connects (a gate's outbound listener: <c>unix:///path</c> or <c>tcp://ip:port</c>),
/// sends one line, prints the reply; exit 0 with a reply, 1 (<c>refused: ...</c>) without one.
/// With <c>--loop</c> it calls every 100 ms on a new connection until its stdin closes, printing
/// <c>ok N</c> or <c>fail N: reason</c> per call, then <c>calls=N failures=M</c>.
/// </summary>
internal static class CallCommand
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    public static Command Create(CliContext context)
    {
        var connect = new Option<string>("--connect") { Description = "unix:///path, tcp://ip:port, or fd:N (a connected socket this process inherited; one call)", Required = true };
        var message = new Option<string>("--message") { Description = "the line to send", DefaultValueFactory = _ => "hello" };
        var loop = new Option<bool>("--loop") { Description = "call every 100 ms until stdin closes" };
        var command = new Command("call", "the demo's client workload (used by anchorage demo)") { connect, message, loop };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            var address = parse.GetRequiredValue(connect);
            if (address.StartsWith("fd:", StringComparison.Ordinal))
            {
                if (!int.TryParse(address.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var fd) || fd < 3 || parse.GetValue(loop))
                {
                    throw CliException.Usage("--connect: fd:N needs an inherited descriptor number of 3 or more, and no --loop");
                }

                var (fdReply, fdError) = await CallOnceAsync(_ => Task.FromResult(new Socket(new SafeSocketHandle(fd, ownsHandle: true))), parse.GetRequiredValue(message), cancellationToken).ConfigureAwait(false);
                return await ReplyAsync(context, fdReply, fdError).ConfigureAwait(false);
            }

            System.Net.EndPoint endPoint;
            try
            {
                endPoint = DemoEndpoint.Parse(address);
            }
            catch (FormatException ex)
            {
                throw CliException.Usage("--connect: " + ex.Message);
            }

            var text = parse.GetRequiredValue(message);
            if (!parse.GetValue(loop))
            {
                var (reply, error) = await CallOnceAsync(endPoint, text, cancellationToken).ConfigureAwait(false);
                return await ReplyAsync(context, reply, error).ConfigureAwait(false);
            }

            return await LoopAsync(context, endPoint, text, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> LoopAsync(CliContext context, System.Net.EndPoint endPoint, string text, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stdinClosed = Task.Run(
            async () =>
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[64];
                while (await stdin.ReadAsync(buffer, stop.Token).ConfigureAwait(false) > 0)
                {
                }
            },
            stop.Token);
        int calls = 0, failures = 0;
        while (!stdinClosed.IsCompleted)
        {
            calls++;
            var (reply, error) = await CallOnceAsync(endPoint, text, stop.Token).ConfigureAwait(false);
            if (reply is null)
            {
                failures++;
            }

            await context.Out.WriteLineAsync(reply is null
                ? string.Create(CultureInfo.InvariantCulture, $"fail {calls}: {error}")
                : string.Create(CultureInfo.InvariantCulture, $"ok {calls}")).ConfigureAwait(false);
            await context.Out.FlushAsync(stop.Token).ConfigureAwait(false);
            await Task.WhenAny(stdinClosed, Task.Delay(100, stop.Token)).ConfigureAwait(false);
        }

        await context.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"calls={calls} failures={failures}")).ConfigureAwait(false);
        await context.Out.FlushAsync(cancellationToken).ConfigureAwait(false);
        return failures == 0 ? ExitCodes.Success : ExitCodes.Rejected;
    }

    private static async Task<int> ReplyAsync(CliContext context, string? reply, string? error)
    {
        if (reply is null)
        {
            throw CliException.Rejected(error!);
        }

        await context.Out.WriteLineAsync(reply).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    /// <summary>One call on a new connection: the reply line, or null and why there was none.</summary>
    private static Task<(string? Reply, string? Error)> CallOnceAsync(System.Net.EndPoint endPoint, string text, CancellationToken cancellationToken) =>
        CallOnceAsync(token => DemoEndpoint.ConnectAsync(endPoint, token), text, cancellationToken);

    /// <summary>One call on the connection <paramref name="open"/> gives: the reply line, or null and why there was none.</summary>
    private static async Task<(string? Reply, string? Error)> CallOnceAsync(Func<CancellationToken, Task<Socket>> open, string text, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplyTimeout);
        try
        {
            using var socket = await open(timeout.Token).ConfigureAwait(false);
            using var stream = new NetworkStream(socket, ownsSocket: false);
            var bytes = Encoding.UTF8.GetBytes(text + "\n");
            await stream.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
            using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
            var reply = await reader.ReadLineAsync(timeout.Token).ConfigureAwait(false);
            return reply is null ? (null, "the connection was closed without a reply") : (reply, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "no reply within 10 s");
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return (null, CliApp.OneLine(ex.Message).ToLowerInvariant());
        }
    }
}
