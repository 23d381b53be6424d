using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation delete TD</c>: removes the relationship and the trust domain's bundle (workloads stop receiving it).</summary>
internal static class DeleteCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("delete", "delete a federation relationship and its bundle") { trustDomain, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new DeleteFederationRequest { TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)) };
            using var admin = AdminConnection.Open(parse, socket);
            await admin.CallAsync((c, o) => c.DeleteFederationAsync(request, o), cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                await context.Out.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { deleted = request.TrustDomain })).ConfigureAwait(false);
            }
            else
            {
                await context.Out.WriteLineAsync($"deleted federation relationship {request.TrustDomain} and its bundle").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
