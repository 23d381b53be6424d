using System.CommandLine;
using System.Text;
using System.Text.Json;
using Anchorage.Cli.Internal;
using Anchorage.Spiffe.Svids;
using Grpc.Core;

namespace Anchorage.Cli.Commands.Agent;

/// <summary>
/// <c>anchorage agent api validate jwt --audience A --token T|@FILE [--socket PATH] [--output json]</c>:
/// has the Workload API validate a JWT-SVID; prints the SPIFFE ID and the claims. Invalid: exit 1.
/// </summary>
internal static class ApiValidateJwtCommand
{
    public static Command Create(CliContext context)
    {
        var socket = WorkloadApiConnection.SocketOption();
        var audience = new Option<string>("--audience") { Description = "the audience this validator is (must be in aud)", Required = true };
        var token = new Option<string>("--token") { Description = "the token, or @FILE to read it from a file", Required = true };
        var output = OutputOption.Create();
        var command = new Command("jwt", "validate a JWT-SVID through the workload api") { socket, audience, token, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var text = ReadToken(parse.GetRequiredValue(token));
            using var client = WorkloadApiConnection.Open(parse, socket, context);
            JwtSvid svid;
            try
            {
                svid = await client.ValidateJwtSvidAsync(text, parse.GetRequiredValue(audience), cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                throw CliException.Rejected(CliApp.OneLine(ex.Status.Detail));
            }
            catch (RpcException ex)
            {
                throw WorkloadApiConnection.ToCliException(ex, client);
            }

            var claims = JsonSerializer.Serialize(svid.Claims, JsonOptions.Indented);
            if (parse.GetValue(output) == OutputFormat.Json)
            {
                await context.Out.WriteLineAsync($"{{\"spiffeId\": {JsonSerializer.Serialize(svid.Id.ToString())}, \"claims\": {svid.Claims.GetRawText()}}}").ConfigureAwait(false);
            }
            else
            {
                await context.Out.WriteLineAsync($"SPIFFE ID:  {svid.Id}").ConfigureAwait(false);
                await context.Out.WriteLineAsync("Claims:").ConfigureAwait(false);
                await context.Out.WriteLineAsync(claims).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static string ReadToken(string value) => value.StartsWith('@')
        ? Encoding.UTF8.GetString(CommonOptions.ReadFile(value[1..], "token file")).Trim()
        : value;
}
