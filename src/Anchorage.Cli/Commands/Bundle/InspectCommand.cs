using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Spectre.Console;

namespace Anchorage.Cli.Commands.Bundle;

/// <summary>
/// <c>anchorage bundle inspect FILE [--trust-domain TD] [--output table|json]</c>: sequence,
/// refresh hint and every authority of a bundle file, with a warning per ignored key.
/// </summary>
internal static class InspectCommand
{
    // A bundle file does not name its trust domain; without --trust-domain we parse under a
    // reserved placeholder that is never printed.
    private static readonly TrustDomain Unnamed = TrustDomain.Parse("unnamed.invalid");

    public static Command Create(CliContext context)
    {
        var file = new Argument<string>("FILE") { Description = "bundle file: SPIFFE JSON, PEM or DER certificates" };
        var trustDomain = new Option<string?>("--trust-domain") { Description = "trust domain the bundle belongs to (shown in the output)" };
        var output = OutputOption.Create();
        var command = new Command("inspect", "show a bundle's sequence, refresh hint and authorities") { file, trustDomain, output };
        command.SetAction(parse =>
        {
            var tdText = parse.GetValue(trustDomain);
            var td = tdText is null ? Unnamed : ParseTrustDomain(tdText);
            var bundle = CommonOptions.ReadBundleFile(td, parse.GetRequiredValue(file), context.Error);
            var rows = Describe(bundle);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                WriteJson(context.Out, tdText is null ? null : td, bundle, rows);
            }
            else
            {
                WriteTable(context.Out, tdText is null ? null : td, bundle, rows);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    internal static TrustDomain ParseTrustDomain(string text) =>
        TrustDomain.TryParse(text, out var td, out var error)
            ? td
            : throw CliException.Usage($"--trust-domain \"{text}\": {error}");

    private sealed record Row(string Use, string Id, string KeyType, DateTimeOffset? NotAfter);

    private static List<Row> Describe(SpiffeBundle bundle)
    {
        var rows = new List<Row>();
        foreach (var cert in bundle.X509Authorities)
        {
            rows.Add(new Row("x509-svid", cert.Subject, KeyType(cert), new DateTimeOffset(cert.NotAfter.ToUniversalTime(), TimeSpan.Zero)));
        }

        foreach (var authority in bundle.JwtAuthorities)
        {
            var keyType = authority.Ecdsa is { } ec
                ? "EC P-" + ec.KeySize.ToString(CultureInfo.InvariantCulture)
                : "RSA " + authority.Rsa!.KeySize.ToString(CultureInfo.InvariantCulture);
            rows.Add(new Row("jwt-svid", authority.KeyId, keyType, null));
        }

        return rows;
    }

    private static string KeyType(X509Certificate2 cert)
    {
        using var ec = cert.GetECDsaPublicKey();
        if (ec is not null)
        {
            return "EC P-" + ec.KeySize.ToString(CultureInfo.InvariantCulture);
        }

        using var rsa = cert.GetRSAPublicKey();
        return rsa is not null ? "RSA " + rsa.KeySize.ToString(CultureInfo.InvariantCulture) : cert.PublicKey.Oid.FriendlyName ?? cert.PublicKey.Oid.Value ?? "unknown";
    }

    private static void WriteTable(TextWriter writer, TrustDomain? td, SpiffeBundle bundle, List<Row> rows)
    {
        var console = OutputOption.Console(writer);
        if (td is { } name)
        {
            console.WriteLine($"trust domain: {name}");
        }

        console.WriteLine("sequence:     " + (bundle.SequenceNumber?.ToString(CultureInfo.InvariantCulture) ?? "-"));
        console.WriteLine("refresh hint: " + (bundle.RefreshHint is { } hint ? ((long)hint.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s" : "-"));
        var table = new Table().AddColumns("USE", "KID / SUBJECT", "KEY", "NOT AFTER");
        foreach (var row in rows)
        {
            table.AddRow(Markup.Escape(row.Use), Markup.Escape(row.Id), Markup.Escape(row.KeyType), row.NotAfter is { } t ? Rfc3339.Format(t) : "-");
        }

        console.Write(table);
    }

    private static void WriteJson(TextWriter writer, TrustDomain? td, SpiffeBundle bundle, List<Row> rows)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            if (td is { } name)
            {
                json.WriteString("trustDomain", name.Name);
            }

            if (bundle.SequenceNumber is { } seq)
            {
                json.WriteNumber("sequence", seq);
            }
            else
            {
                json.WriteNull("sequence");
            }

            if (bundle.RefreshHint is { } hint)
            {
                json.WriteNumber("refreshHintSeconds", (long)hint.TotalSeconds);
            }
            else
            {
                json.WriteNull("refreshHintSeconds");
            }

            json.WriteStartArray("authorities");
            foreach (var row in rows)
            {
                json.WriteStartObject();
                json.WriteString("use", row.Use);
                json.WriteString(row.Use == "jwt-svid" ? "keyId" : "subject", row.Id);
                json.WriteString("keyType", row.KeyType);
                if (row.NotAfter is { } t)
                {
                    json.WriteString("notAfter", Rfc3339.Format(t));
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        writer.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }
}
