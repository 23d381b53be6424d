using System.CommandLine;
using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary>
/// <c>anchorage bundle show [--format pem|spiffe]</c>: the server's own trust bundle, as the
/// PEM of its X.509 authorities (default) or as the SPIFFE bundle JSON the server holds.
/// </summary>
internal static class ShowCommand
{
    public static Command Create(CliContext context)
    {
        var format = new Option<string>("--format") { Description = "pem (X.509 authorities, default) or spiffe (SPIFFE bundle JSON)", DefaultValueFactory = _ => "pem" };
        format.AcceptOnlyFromAmong("pem", "spiffe");
        var socket = AdminConnection.SocketOption();
        var command = new Command("show", "show the server's own trust bundle") { format, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var admin = AdminConnection.Open(parse, socket);
            var bundle = await admin.CallAsync((c, o) => c.GetBundleAsync(new GetBundleRequest(), o), cancellationToken).ConfigureAwait(false);
            if (parse.GetRequiredValue(format) == "spiffe")
            {
                await context.Out.WriteLineAsync(Encoding.UTF8.GetString(bundle.SpiffeBundleJson.Span).TrimEnd()).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var parsed = BundleOutput.Parse(bundle);
            if (parsed.X509Authorities.IsEmpty)
            {
                await context.Error.WriteLineAsync($"warning: the bundle of {parsed.TrustDomain} has no X.509 authorities").ConfigureAwait(false);
            }

            await context.Out.WriteAsync(parsed.ToX509Bundle().ToPem()).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
