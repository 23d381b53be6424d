using System.CommandLine;
using Anchorage.Protos.Admin.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Anchorage.Cli.Internal;

/// <summary>
/// A verb that asks the admin API one question and prints the answer: <c>--output table|json</c>
/// and <c>--socket</c>, one call, then the response as text, or as JSON (the response message's
/// own JSON unless the verb gives its own writer).
/// </summary>
internal static class AdminQueryCommand
{
    public static Command Create<TResponse>(
        CliContext context,
        string name,
        string description,
        Func<AdminApi.AdminApiClient, CallOptions, AsyncUnaryCall<TResponse>> call,
        Action<TextWriter, TResponse> writeText,
        Action<TextWriter, TResponse>? writeJson = null)
        where TResponse : IMessage
    {
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command(name, description) { output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync(call, cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                (writeJson ?? WriteMessage)(context.Out, response);
            }
            else
            {
                writeText(context.Out, response);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void WriteMessage<TResponse>(TextWriter writer, TResponse response)
        where TResponse : IMessage => ProtoJson.Write(writer, response);
}
