using System.CommandLine;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Authority;

/// <summary>
/// <c>anchorage authority x509|jwt prepare</c>: creates the next authority and publishes it in
/// the bundle ahead of use, so that peers trust it before it signs anything.
/// </summary>
internal static class PrepareCommand
{
    public static Command Create(CliContext context, string kind) => AuthorityOutput.Verb(
        context, kind, "prepare", $"prepare the next {kind} authority (published, not yet signing)", takesId: false,
        (client, request, options) => client.PrepareAuthorityAsync(request, options));
}
