using System.CommandLine;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api ...</c>: the SPIFFE Workload API as a workload sees it, through the SDK.
/// </summary>
internal static class ApiCommand
{
    public static Command Create(CliContext context)
    {
        var fetch = new Command("fetch", "fetch identities and bundles from the workload api")
        {
            ApiFetchX509Command.Create(context),
            ApiFetchJwtCommand.Create(context),
            ApiFetchJwtBundlesCommand.Create(context),
        };
        var validate = new Command("validate", "validate through the workload api") { ApiValidateJwtCommand.Create(context) };
        return new Command("api", "the SPIFFE Workload API (as a workload)") { fetch, validate, ApiWatchCommand.Create(context) };
    }
}
