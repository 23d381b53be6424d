using System.CommandLine;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Authority;

/// <summary>
/// <c>anchorage authority x509|jwt activate [--id ID]</c>: makes the prepared authority (or the
/// given one) the one that signs; the previous one becomes old.
/// </summary>
internal static class ActivateCommand
{
    public static Command Create(CliContext context, string kind) => AuthorityOutput.Verb(
        context, kind, "activate", $"make the prepared {kind} authority the signing one", takesId: true,
        (client, request, options) => client.ActivateAuthorityAsync(request, options));
}
