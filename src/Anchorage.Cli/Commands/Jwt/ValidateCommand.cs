using System.CommandLine;
using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Cli.Commands.Jwt;

/// <summary>
/// <c>anchorage jwt validate --token TOKEN|@FILE --audience AUD --bundle TD=FILE... [--at RFC3339]</c>:
/// validates a JWT-SVID with the bundle of its subject's trust domain; prints the SPIFFE ID.
/// </summary>
internal static class ValidateCommand
{
    public static Command Create(CliContext context)
    {
        var token = new Option<string>("--token") { Description = "the token, or @FILE to read it from a file", Required = true };
        var audience = new Option<string>("--audience") { Description = "the audience this validator is (must be in aud)", Required = true };
        var bundles = CommonOptions.Bundles("trust domain and its bundle file (SPIFFE JSON, or PEM for X.509 only), e.g. acme.corp=bundle.json; repeatable");
        var at = CommonOptions.At();
        var command = new Command("validate", "validate a JWT-SVID; prints its SPIFFE ID") { token, audience, bundles, at };
        command.SetAction(parse =>
        {
            var clock = CommonOptions.Clock(parse.GetValue(at), context.Time);
            var set = CommonOptions.ReadBundles(parse.GetRequiredValue(bundles), context.Error);
            var text = ReadToken(parse.GetRequiredValue(token));
            try
            {
                var svid = new JwtSvidValidator(clock).Validate(text, parse.GetRequiredValue(audience), set);
                context.Out.WriteLine(svid.Id.ToString());
                return ExitCodes.Success;
            }
            catch (SpiffeException ex)
            {
                throw CliException.Rejected(CliApp.OneLine(ex.Message));
            }
        });
        return command;
    }

    private static string ReadToken(string value)
    {
        if (!value.StartsWith('@'))
        {
            return value;
        }

        var path = value[1..];
        return Encoding.UTF8.GetString(CommonOptions.ReadFile(path, "token file")).Trim();
    }
}
