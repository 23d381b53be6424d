using System.Globalization;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using ProtoBundle = Anchorage.Protos.Common.V1.Bundle;

namespace Anchorage.Cli.Internal;

/// <summary>How bundles from the admin API are read and shown.</summary>
internal static class BundleOutput
{
    /// <summary>Parses the SPIFFE bundle JSON the server sent.</summary>
    /// <exception cref="CliException">The server sent something that is not a bundle (exit 2).</exception>
    public static SpiffeBundle Parse(ProtoBundle bundle)
    {
        if (!TrustDomain.TryParse(bundle.TrustDomain, out var td, out var error))
        {
            throw CliException.Usage($"the server sent a bundle for \"{bundle.TrustDomain}\": {error}");
        }

        try
        {
            return SpiffeBundle.Parse(td, bundle.SpiffeBundleJson.Span);
        }
        catch (FormatException ex)
        {
            throw CliException.Usage($"the server sent a malformed bundle for {td}: {CliApp.OneLine(ex.Message)}");
        }
    }

    public static void WriteTable(TextWriter writer, IEnumerable<ProtoBundle> bundles) => Tables.Write(
        writer,
        ["TRUST DOMAIN", "SEQUENCE", "X509 AUTHORITIES", "JWT AUTHORITIES", "UPDATED"],
        bundles.Select(b =>
        {
            var (x509, jwt) = Counts(b);
            return new[] { b.TrustDomain, b.Sequence.ToString(CultureInfo.InvariantCulture), x509, jwt, Tables.Time(b.UpdatedAt) };
        }));

    private static (string X509, string Jwt) Counts(ProtoBundle bundle)
    {
        try
        {
            var parsed = Parse(bundle);
            return (parsed.X509Authorities.Length.ToString(CultureInfo.InvariantCulture), parsed.JwtAuthorities.Length.ToString(CultureInfo.InvariantCulture));
        }
        catch (CliException)
        {
            // One unreadable bundle should not hide the others in a listing.
            return ("?", "?");
        }
    }
}
