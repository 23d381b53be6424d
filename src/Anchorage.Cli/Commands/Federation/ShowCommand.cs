using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation show TD</c>: one relationship's status; <c>--output json</c> is the same object <c>list</c> prints.</summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", "show one federation relationship") { trustDomain, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new GetFederationRequest { TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)) };
            using var admin = AdminConnection.Open(parse, socket);
            var status = await admin.CallAsync((c, o) => c.GetFederationAsync(request, o), cancellationToken).ConfigureAwait(false);
            FederationStatusWriter.Write(context, parse.GetValue(output), status);
            return ExitCodes.Success;
        });
        return command;
    }
}
