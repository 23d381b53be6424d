using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Anchorage.Cli.Commands.Demo;

/// <summary>
/// <c>anchorage demo serve --listen IP:PORT --name NAME</c> (hidden): the demo's payments service,
/// a line echo server. Prints <c>listening IP:PORT pid=N exe=PATH</c> once, then
/// <c>connection N from REMOTE</c> for every connection it accepts, so the demo can tell which
/// calls reached it. Answers each line with <c>NAME: line</c>. Runs until killed.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var listen = new Option<string>("--listen") { Description = "ip:port to listen on (port 0: any free port)", Required = true };
        var name = new Option<string>("--name") { Description = "what the service calls itself in replies", DefaultValueFactory = _ => "service" };
        var command = new Command("serve", "the demo's echo service (used by anchorage demo)") { listen, name };
        command.Hidden = true;
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!IPEndPoint.TryParse(parse.GetRequiredValue(listen), out var endPoint))
            {
                throw CliException.Usage("--listen must be ip:port");
            }

            using var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(endPoint);
            listener.Listen(64);
            var bound = (IPEndPoint)listener.LocalEndPoint!;
            var self = parse.GetRequiredValue(name);
            await Say(context, string.Create(CultureInfo.InvariantCulture, $"listening {bound} pid={Environment.ProcessId} exe={Environment.ProcessPath}")).ConfigureAwait(false);
            var count = 0;
            while (!cancellationToken.IsCancellationRequested)
            {
                var connection = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                count++;
                await Say(context, string.Create(CultureInfo.InvariantCulture, $"connection {count} from {connection.RemoteEndPoint}")).ConfigureAwait(false);
                _ = EchoAsync(connection, self, cancellationToken);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task Say(CliContext context, string line)
    {
        await context.Out.WriteLineAsync(line).ConfigureAwait(false);
        await context.Out.FlushAsync().ConfigureAwait(false);
    }

    private static async Task EchoAsync(Socket connection, string self, CancellationToken cancellationToken)
    {
        using var stream = new NetworkStream(connection, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true) { AutoFlush = true };
        try
        {
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                await writer.WriteLineAsync($"{self}: {line}").ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The caller went away; nothing to report.
        }
    }
}
