using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Authority;

/// <summary>
/// <c>anchorage authority x509|jwt show [--id ID]</c>: the server's signing authorities of one
/// kind (prepared, active, old), or the one with the given id.
/// </summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context, string kind)
    {
        var id = new Option<string?>("--id") { Description = "show only the authority with this id" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", $"show the {kind} signing authorities") { id, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.ListAuthoritiesAsync(new ListAuthoritiesRequest { Kind = kind }, o), cancellationToken).ConfigureAwait(false);
            IEnumerable<Protos.Admin.V1.Authority> authorities = response.Authorities;
            if (parse.GetValue(id) is { } wanted)
            {
                authorities = authorities.Where(a => a.Id == wanted).ToList();
                if (!authorities.Any())
                {
                    throw CliException.Rejected($"no {kind} authority has id \"{wanted}\"");
                }
            }

            AuthorityOutput.Write(context.Out, authorities, parse.GetValue(output));
            return ExitCodes.Success;
        });
        return command;
    }
}
