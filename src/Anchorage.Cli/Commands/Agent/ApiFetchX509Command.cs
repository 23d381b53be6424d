using System.CommandLine;
using System.Text;
using System.Text.Json;
using Anchorage.Cli.Internal;
using Anchorage.Foundation.Files;
using Anchorage.WorkloadApi;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api fetch x509 [--socket PATH] [--write DIR] [--output json]</c>: the
/// caller's X.509-SVIDs and bundles. With <c>--write</c>, DIR gets <c>svid.N.pem</c> (chain),
/// <c>svid.N.key</c> (PKCS#8, mode 0600), <c>bundle.N.pem</c> and <c>federated_bundle.TD.pem</c>.
/// </summary>
internal static class ApiFetchX509Command
{
    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var write = new Option<string?>("--write") { Description = "write the SVIDs, keys and bundles as PEM files into this directory" };
        var output = OutputOption.Create();
        var command = new Command("x509", "fetch the caller's X.509-SVIDs and bundles") { socket, write, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var client = WorkloadApiConnection.Open(parse, socket, context);
            var x509 = await WorkloadApiConnection.CallAsync(client, c => c.FetchX509ContextAsync(cancellationToken)).ConfigureAwait(false);

            if (parse.GetValue(write) is { } dir)
            {
                Write(x509, dir);
                await context.Out.WriteLineAsync($"wrote {x509.Svids.Length} svid(s) and {x509.Bundles.X509Bundles.Count} bundle(s) to {dir}").ConfigureAwait(false);
            }
            else if (parse.GetValue(output) == OutputFormat.Json)
            {
                var json = new
                {
                    svids = x509.Svids.Select(s => new { spiffeId = s.Id.ToString(), hint = s.Hint ?? string.Empty, expiresAt = WorkloadApiConnection.Time(s.Leaf.NotAfter) }),
                    bundles = x509.Bundles.X509Bundles.Keys.Order().Select(t => t.Name),
                };
                await context.Out.WriteLineAsync(JsonSerializer.Serialize(json, JsonOptions.Indented)).ConfigureAwait(false);
            }
            else
            {
                foreach (var svid in x509.Svids)
                {
                    await context.Out.WriteLineAsync($"SPIFFE ID:  {svid.Id}").ConfigureAwait(false);
                    await context.Out.WriteLineAsync($"Hint:       {svid.Hint ?? "-"}").ConfigureAwait(false);
                    await context.Out.WriteLineAsync($"Expires:    {WorkloadApiConnection.Time(svid.Leaf.NotAfter)}").ConfigureAwait(false);
                    await context.Out.WriteLineAsync().ConfigureAwait(false);
                }

                await context.Out.WriteLineAsync("Bundles:    " + string.Join(", ", x509.Bundles.X509Bundles.Keys.Order().Select(t => t.Name))).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void Write(X509Context x509, string dir)
    {
        Directory.CreateDirectory(dir);
        var own = new HashSet<Spiffe.Ids.TrustDomain>();
        for (var i = 0; i < x509.Svids.Length; i++)
        {
            var svid = x509.Svids[i];
            own.Add(svid.Id.TrustDomain);
            SafeFile.Write(Path.Combine(dir, $"svid.{i}.pem"), Encoding.UTF8.GetBytes(svid.ToPem()), SafeFile.PublicMode);
            SafeFile.Write(Path.Combine(dir, $"svid.{i}.key"), Encoding.UTF8.GetBytes(svid.KeyToPem()), SafeFile.PrivateMode);
            if (x509.Bundles.TryGetX509Bundle(svid.Id.TrustDomain, out var bundle))
            {
                SafeFile.Write(Path.Combine(dir, $"bundle.{i}.pem"), Encoding.UTF8.GetBytes(bundle.ToPem()), SafeFile.PublicMode);
            }
        }

        foreach (var (trustDomain, bundle) in x509.Bundles.X509Bundles)
        {
            if (!own.Contains(trustDomain))
            {
                SafeFile.Write(Path.Combine(dir, $"federated_bundle.{trustDomain.Name}.pem"), Encoding.UTF8.GetBytes(bundle.ToPem()), SafeFile.PublicMode);
            }
        }
    }
}
