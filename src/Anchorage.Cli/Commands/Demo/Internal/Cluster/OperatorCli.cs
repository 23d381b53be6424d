using System.Globalization;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;

namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// The operator's side of the cluster: <c>anchorage</c> verbs run in this process against a
/// domain's admin socket (shown as <c>$ anchorage ...</c>), and admin API calls for what the demo
/// checks without showing.
/// </summary>
internal sealed class OperatorCli(CliContext context, DemoConsole console, Func<string, string> shorten)
{
    /// <summary>Calls the admin API of <paramref name="domain"/> over its socket.</summary>
    public static async Task<T> AdminAsync<T>(ClusterDomain domain, Func<AdminApi.AdminApiClient, CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken)
    {
        using var admin = AdminConnection.ForSocket(domain.AdminSocket);
        return await admin.CallAsync(call, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a verb against <paramref name="domain"/>'s admin socket, showing it; its output, or a failed step.</summary>
    public async Task<string> CheckedAsync(ClusterDomain domain, string[] args, CancellationToken cancellationToken, bool showOutput = true)
    {
        var result = await RunAsync(domain, args, show: true, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new DemoStepException($"anchorage {string.Join(' ', args.Select(shorten))} exited {result.ExitCode}: {CliApp.OneLine(result.Error.Trim())}");
        }

        if (showOutput && result.Out.Trim().Length > 0)
        {
            console.Block(result.Out);
        }

        return result.Out;
    }

    /// <summary>Runs a verb (with <c>--socket</c> of <paramref name="domain"/> when not null); its exit code and output.</summary>
    public async Task<(int ExitCode, string Out, string Error)> RunAsync(ClusterDomain? domain, string[] args, bool show, CancellationToken cancellationToken)
    {
        if (show)
        {
            console.Command("anchorage " + string.Join(' ', args.Select(shorten)), domain is null ? null : $"on {domain.Name}'s admin socket");
        }

        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        string[] full = domain is null ? args : [.. args, "--socket", domain.AdminSocket];
        var code = await CliApp.RunAsync(full, new CliContext(output, error, context.Time), cancellationToken).ConfigureAwait(false);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Whether this build has <c>anchorage NOUN VERB</c>.</summary>
    public bool HasVerb(string noun, string verb) =>
        CliApp.BuildRoot(context).Subcommands.FirstOrDefault(c => c.Name == noun)?.Subcommands.Any(c => c.Name == verb) == true;
}
