using System.CommandLine;
using System.Globalization;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;
using Google.Protobuf;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary>
/// <c>anchorage bundle set --trust-domain TD -f FILE</c>: stores a foreign trust domain's bundle.
/// The file (SPIFFE bundle JSON or PEM) is sent as it is; the server parses and judges it.
/// </summary>
internal static class SetCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Option<string>("--trust-domain") { Description = "the foreign trust domain the bundle belongs to", Required = true };
        var file = new Option<string>("--file", "-f") { Description = "the bundle: SPIFFE bundle JSON or PEM certificates", Required = true };
        var socket = AdminConnection.SocketOption();
        var command = new Command("set", "set a federated trust domain's bundle") { trustDomain, file, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new SetBundleRequest
            {
                TrustDomain = Identifiers.TrustDomain("--trust-domain", parse.GetRequiredValue(trustDomain)),
                Content = ByteString.CopyFrom(CommonOptions.ReadFile(parse.GetRequiredValue(file), "bundle file")),
            };
            using var admin = AdminConnection.Open(parse, socket);
            var bundle = await admin.CallAsync((c, o) => c.SetBundleAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"set bundle for {request.TrustDomain} (sequence {bundle.Sequence})")).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
