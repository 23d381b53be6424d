using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary>
/// <c>anchorage federation approve TD [--note TEXT]</c>: approves a pending relationship (or renews a
/// due review); the server records the caller's uid and user name, the time, the note and the
/// authorities its bundle holds now, and agents start receiving the bundle.
/// </summary>
internal static class ApproveCommand
{
    public static Command Create(CliContext context)
    {
        var trustDomain = new Argument<string>("TD") { Description = "the federated trust domain" };
        var note = new Option<string>("--note") { Description = "why it is approved (recorded with the approval)" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("approve", "approve a federation relationship: agents receive its bundle from now on") { trustDomain, note, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new ApproveFederationRequest
            {
                TrustDomain = Identifiers.TrustDomain("trust domain", parse.GetRequiredValue(trustDomain)),
                Note = parse.GetValue(note) ?? string.Empty,
            };
            using var admin = AdminConnection.Open(parse, socket);
            var status = await admin.CallAsync((c, o) => c.ApproveFederationAsync(request, o), cancellationToken).ConfigureAwait(false);
            FederationStatusWriter.Write(context, parse.GetValue(output), status);
            return ExitCodes.Success;
        });
        return command;
    }
}
