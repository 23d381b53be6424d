using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary><c>anchorage bundle delete TD</c>: removes a federated trust domain's bundle.</summary>
internal static class DeleteCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("delete", "delete a federated trust domain's bundle") { trustDomain, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new DeleteBundleRequest { TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)) };
            using var admin = AdminConnection.Open(parse, socket);
            await admin.CallAsync((c, o) => c.DeleteBundleAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"deleted bundle for {request.TrustDomain}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
