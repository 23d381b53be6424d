using System.CommandLine;
using System.Globalization;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary>
/// <c>anchorage bundle convert FILE --trust-domain TD --to pem|spiffe</c>: rewrites a bundle file
/// in the other format on stdout.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("FILE") { Description = "bundle file: SPIFFE JSON, PEM or DER certificates" };
        var trustDomain = new Option<string>("--trust-domain") { Description = "trust domain the bundle belongs to", Required = true };
        var to = new Option<string>("--to") { Description = "target format: pem or spiffe", Required = true };
        to.AcceptOnlyFromAmong("pem", "spiffe");
        var command = new Command("convert", "convert a bundle between PEM and SPIFFE JSON") { file, trustDomain, to };
        command.SetAction(parse =>
        {
            var td = InspectCommand.ParseTrustDomain(parse.GetRequiredValue(trustDomain));
            var bundle = CommonOptions.ReadBundleFile(td, parse.GetRequiredValue(file), context.Error);
            if (parse.GetRequiredValue(to) == "spiffe")
            {
                context.Out.WriteLine(bundle.ToJson());
                return ExitCodes.Success;
            }

            if (!bundle.JwtAuthorities.IsEmpty)
            {
                context.Error.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"warning: {bundle.JwtAuthorities.Length} JWT authorities cannot be written as PEM and were left out"));
            }

            context.Out.Write(bundle.ToX509Bundle().ToPem());
            return ExitCodes.Success;
        });
        return command;
    }
}
