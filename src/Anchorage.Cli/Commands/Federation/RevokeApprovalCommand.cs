using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation revoke-approval TD</c>: the relationship is pending again; agents stop receiving its bundle.</summary>
internal static class RevokeApprovalCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("revoke-approval", "revoke a federation relationship's approval: agents stop receiving its bundle") { trustDomain, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new RevokeFederationApprovalRequest { TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)) };
            using var admin = AdminConnection.Open(parse, socket);
            var status = await admin.CallAsync((c, o) => c.RevokeFederationApprovalAsync(request, o), cancellationToken).ConfigureAwait(false);
            FederationStatusWriter.Write(context, parse.GetValue(output), status);
            return ExitCodes.Success;
        });
        return command;
    }
}
