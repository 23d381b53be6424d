using System.CommandLine;
using Anchorage.Cli.Internal;

namespace Anchorage.Cli.Commands.Authority;

/// <summary>
/// <c>anchorage authority x509|jwt taint [--id ID]</c>: marks the old authority (or the given
/// one) as compromised so that agents re-issue everything it signed.
/// </summary>
internal static class TaintCommand
{
    public static Command Create(CliContext context, string kind) => AuthorityOutput.Verb(
        context, kind, "taint", $"mark the old {kind} authority as tainted so that its SVIDs are replaced", takesId: true,
        (client, request, options) => client.TaintAuthorityAsync(request, options));
}
