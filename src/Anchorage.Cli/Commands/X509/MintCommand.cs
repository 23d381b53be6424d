using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Files;
using Anchorage.Protos.Admin.V1;
using Google.Protobuf;

namespace Anchorage.Cli.Commands.X509;

/// <summary>
/// <c>anchorage x509 mint --spiffe-id ID [--ttl D] [--dns NAME]... [--write DIR]</c>: has the
/// server sign an X.509-SVID for any ID of its trust domain. The EC P-256 key is made here and
/// only its CSR is sent. With <c>--write</c>: DIR/svid.pem (chain, leaf first), DIR/key.pem
/// (PKCS#8, mode 0600) and DIR/bundle.pem (the bundle's X.509 authorities); without it, the
/// chain and the key as PEM on stdout.
/// </summary>
internal static class MintCommand
{
    public static Command Create(CliContext context)
    {
        var spiffeId = new Option<string>("--spiffe-id") { Description = "the SPIFFE ID of the SVID", Required = true };
        var ttl = new Option<string?>("--ttl") { Description = "the SVID's lifetime, e.g. 1h (default: the server's)" };
        var dns = new Option<string[]>("--dns") { Description = "a DNS name for the SVID; repeatable", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var write = new Option<string?>("--write") { Description = "write svid.pem, key.pem and bundle.pem into this directory instead of printing" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("mint", "mint an X.509-SVID; the private key is made locally") { spiffeId, ttl, dns, write, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var id = Identifiers.SpiffeId("--spiffe-id", parse.GetRequiredValue(spiffeId));
            var request = new MintX509SvidRequest { SpiffeId = id };
            if (parse.GetValue(ttl) is { } text)
            {
                request.TtlSeconds = (long)Durations.Parse("--ttl", text).TotalSeconds;
            }

            request.DnsNames.AddRange((parse.GetValue(dns) ?? []).Select(name => Identifiers.DnsName("--dns", name)));

            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            request.Csr = ByteString.CopyFrom(SigningRequest(key, id, request.DnsNames));
            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.MintX509SvidAsync(request, o), cancellationToken).ConfigureAwait(false);
            if (response.Svid is null || response.Svid.CertChain.Count == 0)
            {
                throw CliException.Usage("the server returned no certificate");
            }

            var chain = new StringBuilder();
            foreach (var der in response.Svid.CertChain)
            {
                chain.Append(PemEncoding.Write("CERTIFICATE", der.Span)).Append('\n');
            }

            var keyPem = key.ExportPkcs8PrivateKeyPem() + "\n";
            if (parse.GetValue(write) is not { } directory)
            {
                await context.Out.WriteAsync(chain.ToString() + keyPem).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var bundlePem = response.Bundle is null ? string.Empty : BundleOutput.Parse(response.Bundle).ToX509Bundle().ToPem();
            Directory.CreateDirectory(directory);
            await SafeFile.WriteTextAsync(Path.Combine(directory, "key.pem"), keyPem, SafeFile.PrivateMode, cancellationToken).ConfigureAwait(false);
            await SafeFile.WriteTextAsync(Path.Combine(directory, "svid.pem"), chain.ToString(), SafeFile.PublicMode, cancellationToken).ConfigureAwait(false);
            await SafeFile.WriteTextAsync(Path.Combine(directory, "bundle.pem"), bundlePem, SafeFile.PublicMode, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"wrote svid.pem, key.pem and bundle.pem for {id} to {directory}").ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }

    private static byte[] SigningRequest(ECDsa key, string spiffeId, IEnumerable<string> dnsNames)
    {
        var request = new CertificateRequest(new X500DistinguishedName(string.Empty), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(spiffeId));
        foreach (var name in dnsNames)
        {
            san.AddDnsName(name);
        }

        request.CertificateExtensions.Add(san.Build());
        return request.CreateSigningRequest();
    }
}
