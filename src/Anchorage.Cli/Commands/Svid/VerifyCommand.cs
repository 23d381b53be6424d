using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Cli.Commands.Svid;

/// <summary>
/// <c>anchorage svid verify --chain FILE --bundle TD=FILE... [--at RFC3339]</c>: verifies an
/// X.509-SVID chain with the bundle of the trust domain its leaf names; prints the SPIFFE ID.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create(CliContext context)
    {
        var chain = new Option<string>("--chain") { Description = "PEM file: the leaf first, then intermediates", Required = true };
        var bundles = CommonOptions.Bundles("trust domain and its bundle file (PEM, DER or SPIFFE JSON), e.g. acme.corp=bundle.pem; repeatable");
        var at = CommonOptions.At();
        var command = new Command("verify", "verify an X.509-SVID chain; prints its SPIFFE ID") { chain, bundles, at };
        command.SetAction(parse =>
        {
            var clock = CommonOptions.Clock(parse.GetValue(at), context.Time);
            var set = CommonOptions.ReadBundles(parse.GetRequiredValue(bundles), context.Error);
            var chainPath = parse.GetRequiredValue(chain);
            var certificates = ReadChain(chainPath);
            try
            {
                var result = new X509SvidVerifier(clock).Verify(certificates, set);
                context.Out.WriteLine(result.Id.ToString());
                return ExitCodes.Success;
            }
            catch (SpiffeException ex)
            {
                throw CliException.Rejected(CliApp.OneLine(ex.Message));
            }
        });
        return command;
    }

    private static List<System.Security.Cryptography.X509Certificates.X509Certificate2> ReadChain(string path)
    {
        var content = CommonOptions.ReadFile(path, "chain file");
        try
        {
            var certificates = CertificateChain.Parse(content);
            if (certificates.Count == 0)
            {
                throw CliException.Usage($"chain file {path}: no certificates found");
            }

            return certificates;
        }
        catch (FormatException ex)
        {
            throw CliException.Usage($"chain file {path}: {CliApp.OneLine(ex.Message)}");
        }
    }
}
