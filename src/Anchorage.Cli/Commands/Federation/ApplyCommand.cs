using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Federation;

/// <summary>
/// <c>anchorage federation apply -f FILE</c>: declares (inserts or replaces) the relationships of
/// every <c>FederatedTrustDomain</c> document in FILE. The whole file is checked first; nothing is
/// sent when any document is invalid. Documents are then applied in order; one the server refuses
/// stops the run (those before it stay applied). Prints one <c>applied TD</c> line per document.
/// </summary>
internal static class ApplyCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Option<string>("--file", "-f") { Description = "a YAML file of FederatedTrustDomain documents", Required = true };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command("apply", "declare federation relationships from a YAML file") { file, output, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var documents = FederationFile.Read(parse.GetRequiredValue(file));
            using var admin = AdminConnection.Open(parse, socket);
            var applied = new List<FederationStatus>();
            foreach (var spec in documents)
            {
                var request = new ApplyFederationRequest { Relationship = spec };
                applied.Add(await admin.CallAsync((c, o) => c.ApplyFederationAsync(request, o), cancellationToken).ConfigureAwait(false));
                if (parse.GetValue(output) != OutputFormat.Json)
                {
                    await context.Out.WriteLineAsync($"applied {spec.TrustDomain}").ConfigureAwait(false);
                }
            }

            if (parse.GetValue(output) == OutputFormat.Json)
            {
                FederationOutput.WriteJson(context.Out, applied, context.Time.GetUtcNow());
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
