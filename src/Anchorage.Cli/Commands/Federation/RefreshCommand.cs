using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary><c>anchorage federation refresh TD</c>: fetches the trust domain's bundle now and shows the outcome.</summary>
internal static class RefreshCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("refresh", "fetch a federated trust domain's bundle now") { trustDomain, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new RefreshFederationRequest { TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)) };
            using var admin = AdminConnection.Open(parse, socket);
            var status = await admin.CallAsync((c, o) => c.RefreshFederationAsync(request, o), cancellationToken).ConfigureAwait(false);
            FederationStatusWriter.Write(context, parse.GetValue(output), status);
            return ExitCodes.Success;
        });
        return command;
    }
}
