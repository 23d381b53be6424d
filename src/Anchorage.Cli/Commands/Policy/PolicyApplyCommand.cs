using System.CommandLine;
using System.Globalization;
using System.Text;
using Anchorage.Cli.Internal;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;

namespace Anchorage.Cli.Commands.Policy;

/// <summary>
/// <c>anchorage policy apply -f FILE</c>: stores FILE as the trust domain's communication policy
/// (replacing the stored one); the server validates it and hands it to every agent. Prints
/// <c>policy NAME applied: version N</c>, or <c>policy NAME unchanged: version N</c> when the text
/// equals the stored one. An invalid policy prints every error (<c>error: FILE:LINE: path: message</c>)
/// on its own stderr line and exits 2; nothing is stored.
/// </summary>
internal static class PolicyApplyCommand
{
    public static Command Create(CliContext context)
    {
        var file = new Option<string>("--file", "-f") { Description = "the CommunicationPolicy YAML file", Required = true };
        var socket = AdminConnection.SocketOption();
        var command = new Command("apply", "store a policy file as the trust domain's communication policy (agents receive it)") { file, socket };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(file);
            var request = new ApplyPolicyRequest
            {
                Yaml = Encoding.UTF8.GetString(CommonOptions.ReadFile(path, "policy file")),
                Source = path,
            };
            using var admin = AdminConnection.Open(parse, socket);
            var options = new CallOptions(
                deadline: TimeProvider.System.GetUtcNow().UtcDateTime + AdminConnection.CallTimeout,
                cancellationToken: cancellationToken);
            ApplyPolicyResponse response;
            try
            {
                response = await admin.Client.ApplyPolicyAsync(request, options).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
            {
                // The server reports every error of the document, one per line.
                throw new CliException(
                    ExitCodes.UsageOrIo,
                    string.Join('\n', e.Status.Detail.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => "error: " + line)));
            }
            catch (RpcException e)
            {
                throw AdminConnection.ToCliException(e, admin.SocketPath);
            }

            var outcome = response.Changed ? "applied" : "unchanged";
            await context.Out.WriteLineAsync(
                string.Create(CultureInfo.InvariantCulture, $"policy {response.Policy.Name} {outcome}: version {response.Policy.Version}")).ConfigureAwait(false);
            return ExitCodes.Success;
        });
        return command;
    }
}
