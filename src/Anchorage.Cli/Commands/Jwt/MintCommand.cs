using System.CommandLine;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Commands.Jwt;

/// <summary>
/// <c>anchorage jwt mint --spiffe-id ID --audience A [--audience A]... [--ttl D]</c>: has the
/// server sign a JWT-SVID for any ID of its trust domain; prints the token.
/// </summary>
internal static class MintCommand
{
    public static Command Create(CliContext context)
    {
        var spiffeId = new Option<string>("--spiffe-id") { Description = "the SPIFFE ID of the token's subject", Required = true };
        var audience = new Option<string[]>("--audience") { Description = "an audience (aud) of the token; repeatable", Required = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };
        var ttl = new Option<string?>("--ttl") { Description = "the token's lifetime, e.g. 5m (default: the server's)" };
        var socket = AdminConnection.SocketOption();
        var command = new Command("mint", "mint a JWT-SVID; prints the token") { spiffeId, audience, ttl, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new MintJwtSvidRequest { SpiffeId = Identifiers.SpiffeId("--spiffe-id", parse.GetRequiredValue(spiffeId)) };
            foreach (var aud in parse.GetRequiredValue(audience))
            {
                request.Audience.Add(string.IsNullOrWhiteSpace(aud) ? throw CliException.Usage("--audience is empty") : aud);
            }

            if (parse.GetValue(ttl) is { } text)
            {
                request.TtlSeconds = (long)Durations.Parse("--ttl", text).TotalSeconds;
            }

            using var admin = AdminConnection.Open(parse, socket);
            var response = await admin.CallAsync((c, o) => c.MintJwtSvidAsync(request, o), cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync(response.Token).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
