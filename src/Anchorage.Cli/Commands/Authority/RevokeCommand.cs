using System.CommandLine;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Authority;

/// <summary>
/// <c>anchorage authority x509|jwt revoke [--id ID]</c>: removes the tainted old authority (or
/// the given one) from the bundle; what it signed stops verifying.
/// </summary>
internal static class RevokeCommand
{
    public static Command Create(CliContext context, string kind) => AuthorityOutput.Verb(
        context, kind, "revoke", $"remove the old {kind} authority from the bundle", takesId: true,
        (client, request, options) => client.RevokeAuthorityAsync(request, options));
}
